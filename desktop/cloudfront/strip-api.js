// CloudFront Function (runtime cloudfront-js-2.0), viewer request, on the distribution's `/api/*`
// behaviour: the agent HTTP API has its routes at the root (`/session_info/{contact_id}`,
// `/setConnectUserId`), the pages call them under `/api/` on their own origin (no CORS,
// `connect-src 'self'`), so the prefix comes off before the request goes to the API origin.
//
// The runtime wants a top-level `handler`, no modules: the unit test loads this file in a node `vm`.
// The query string is not part of `uri` (it is `request.querystring`) and passes through untouched.
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri === '/api') {
    request.uri = '/';
  } else if (uri.indexOf('/api/') === 0) {
    request.uri = uri.substring(4);
  }
  return request;
}
