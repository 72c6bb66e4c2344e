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
