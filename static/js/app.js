// Small progressive enhancements; every page works without them.
"use strict";

document.addEventListener("click", (event) => {
  const confirmTarget = event.target.closest("[data-confirm]");
  if (confirmTarget && !window.confirm(confirmTarget.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  const copyButton = event.target.closest("[data-copy]");
  if (copyButton) {
    const field = document.querySelector(copyButton.dataset.copy);
    field.select();
    navigator.clipboard?.writeText(field.value).then(() => { copyButton.textContent = "Copied"; });
  }
});

// Long requests (bulk uploads): say that work is under way and stop a second submit.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-busy]");
  if (!form || event.defaultPrevented) return;
  // Not `disabled`: a disabled submit button would drop its own name and value from the request.
  if (form.dataset.submitted) { event.preventDefault(); return; }
  form.dataset.submitted = "yes";
  const note = document.createElement("p");
  note.setAttribute("role", "status");
  const bar = document.createElement("progress");
  note.append(form.dataset.busy, document.createElement("br"), bar);
  form.append(note);
});

// A readings upload checked by the worker: poll its progress, reload the page when it is done.
const progressBox = document.querySelector("[data-progress-url]");
if (progressBox) {
  const bar = progressBox.querySelector("progress");
  const text = progressBox.querySelector("[data-progress-text]");
  const poll = () => {
    fetch(progressBox.dataset.progressUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => response.json())
      .then((state) => {
        if (state.finished) { window.location.reload(); return; }
        const progress = state.progress;
        if (progress && progress.total) {
          bar.max = progress.total;
          bar.value = progress.done;
          text.textContent = `${progress.phase}: ${Math.floor((100 * progress.done) / progress.total)} %`;
        } else if (progress) {
          bar.removeAttribute("value");
          text.textContent = `${progress.phase}: ${progress.done.toLocaleString()} rows`;
        } else {
          text.textContent = state.status;
        }
        window.setTimeout(poll, 1500);
      })
      .catch(() => window.setTimeout(poll, 5000));
  };
  window.setTimeout(poll, 1000);
}

// The sampling plan: recalculate the sample size as the verifier types (the Calculate button does
// the same without JavaScript).
const planForm = document.querySelector("form[data-plan-preview]");
if (planForm) {
  const box = document.getElementById("plan-preview");
  const fields = ["parameter_kind", "confidence", "relative_precision", "expected_cv", "expected_proportion",
    "non_response", "stratify_by", "allocation"];
  const cell = (text, numeric) => {
    const td = document.createElement("td");
    td.textContent = text;
    if (numeric) td.className = "number";
    return td;
  };
  let timer = null;
  const recalculate = () => {
    const params = new URLSearchParams();
    for (const name of fields) {
      const input = planForm.elements[name];
      if (input && input.value !== "") params.set(name, input.value);
    }
    fetch(`${planForm.dataset.planPreview}?${params}`, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => response.json())
      .then((plan) => {
        box.replaceChildren();
        const heading = document.createElement("h2");
        heading.textContent = "Sample size";
        box.append(heading);
        const p = document.createElement("p");
        if (plan.error) {
          p.className = "field-error";
          p.textContent = plan.error;
          box.append(p);
          return;
        }
        const n = document.createElement("strong");
        n.dataset.testid = "sample-n";
        n.textContent = plan.total;
        p.append(n, ` of ${plan.population} sites (formula: n = ${plan.n})`);
        const formula = document.createElement("p");
        const code = document.createElement("code");
        code.dataset.testid = "formula";
        code.textContent = plan.formula;
        formula.append(code);
        const table = document.createElement("table");
        table.className = "striped";
        table.dataset.testid = "strata";
        const head = table.createTHead().insertRow();
        for (const label of ["Stratum", "Nh", "Sh tCO2e", "nh"]) {
          const th = document.createElement("th");
          th.textContent = label;
          head.append(th);
        }
        const body = table.createTBody();
        for (const s of plan.strata) {
          const row = body.insertRow();
          row.append(cell(s.key), cell(s.size, true), cell(s.sd_tco2e ?? "—", true), cell(s.n, true));
        }
        box.append(p, formula, table);
        for (const note of plan.notes) {
          const small = document.createElement("p");
          small.textContent = note;
          box.append(small);
        }
      })
      .catch(() => {});
  };
  planForm.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(recalculate, 250);
  });
}
