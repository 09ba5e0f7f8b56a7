// Starts the API's Swagger page (course/api/docs.py) from a file, not an inline script, so
// the page runs under the site's Content-Security-Policy without 'unsafe-inline'.
(function () {
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({ url: root.dataset.openapi, domNode: root, deepLinking: true });
})();
