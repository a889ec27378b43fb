// Swagger UI over the documents listed on the page (frontend/api_docs.py). No validator:
// Swagger UI would otherwise send each document to an outside service.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof SwaggerUIBundle === "undefined") return;
  var documents = JSON.parse(root.getAttribute("data-documents"));
  window.ui = SwaggerUIBundle({
    urls: documents,
    "urls.primaryName": documents[0].name,
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
  });
})();
