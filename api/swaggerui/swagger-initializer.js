// Inkwell's Swagger UI set-up. It is a file of its own, not an inline
// script, so that the page works under a Content-Security-Policy with
// script-src 'self'.
window.addEventListener("load", function () {
  "use strict";
  // Swagger UI adds "Bearer " to the token given to Authorize; the tutorial
  // says to paste "Bearer <token>", which would send "Bearer Bearer <token>".
  var doubled = /^Bearer\s+Bearer\s+/i;
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // Keep the token given to Authorize across reloads (in localStorage).
    persistAuthorization: true,
    displayRequestDuration: true,
    // No badge from the online validator: the page works offline.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    requestInterceptor: function (req) {
      var auth = req.headers && req.headers.Authorization;
      if (typeof auth === "string" && doubled.test(auth)) {
        req.headers.Authorization = auth.replace(doubled, "Bearer ");
      }
      return req;
    },
  });
});
