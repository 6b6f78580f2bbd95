/**
 * Starts Swagger UI on this server's /openapi.json, from a file of its own: the page's
 * Content-Security-Policy allows no inline script. Under bearer auth, the token the console
 * keeps in session storage goes with the document request and with "Try it out".
 */
declare const SwaggerUIBundle: (options: Record<string, unknown>) => unknown;

const token = sessionStorage.getItem('modelgate.token');
SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  // Swagger UI would send the document to an online validator for its badge: never leave this server.
  validatorUrl: null,
  requestInterceptor: (req: { headers: Record<string, string>; url: string }) => {
    if (token !== null && new URL(req.url, location.href).origin === location.origin && req.headers.Authorization === undefined) {
      req.headers.Authorization = `Bearer ${token}`;
    }
    return req;
  },
});
