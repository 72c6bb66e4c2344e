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
