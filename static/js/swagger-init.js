// Starts Swagger UI from a file, not an inline script, so the page keeps the strict CSP.
"use strict";

window.addEventListener("load", () => {
  const container = document.getElementById("swagger-ui-container");
  window.ui = SwaggerUIBundle({
    url: container.dataset.specUrl,
    dom_id: "#swagger-ui-container",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    persistAuthorization: false,
    validatorUrl: null, // the default validator is an online service
  });
});
