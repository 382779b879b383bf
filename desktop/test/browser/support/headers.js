// The response headers of the spec's per-page policies ("Serving"), for the test server. The
// CloudFront stand-in of the local cloud will read the same values from template.yaml; until the
// template has them, this is the one place they are written down for the browser tests.

export const PAGE_OF_PATH = {
  '/audio-only.html': 'audio-only',
  '/in-session.html': 'in-session',
  '/agent.html': 'agent',
};

/**
 * Headers for a path. `instanceUrl`: the Connect instance origin (the CCP's); `cognitoDomain`: the
 * user-pool domain the agent page calls for tokens. Assets (js, css, json) get the default
 * behaviour's policy, which is the strictest one: no microphone.
 */
export function responseHeaders(path, { instanceUrl, cognitoDomain }) {
  const page = PAGE_OF_PATH[path] ?? 'default';
  const connectSrc = page === 'agent' ? `'self' ${cognitoDomain}` : "'self'";
  const microphone = page === 'audio-only' || page === 'agent' ? `microphone=(self "${instanceUrl}")` : 'microphone=()';
  return {
    'Content-Security-Policy': [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      `connect-src ${connectSrc}`,
      `frame-src ${instanceUrl}`,
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    'Permissions-Policy': `${microphone}, camera=(), geolocation=()`,
    'Strict-Transport-Security': 'max-age=31536000',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin-allow-popups',
    'Cache-Control': 'no-cache',
  };
}
