// Calls to the agent HTTP API under /api on the page's own origin (CloudFront sends /api/* to the
// API and strips the prefix), with the Cognito ID token in the `cognitoIdToken` header that the
// API's JWT authorizer reads. Answers come back as data, never as exceptions, so each caller decides
// what a 401 or a 503 means for it (the panel's state machine, the onboarding).

/** `{status, body}` (body: parsed JSON, or undefined when it was not JSON) or `{network: true}`. */
export async function apiCall(session, method, path, body, fetchImpl = globalThis.fetch) {
  const headers = { Accept: 'application/json' };
  if (session.idToken) headers.cognitoIdToken = session.idToken;
  const init = { method, headers, credentials: 'omit', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetchImpl(`/api${path}`, init);
  } catch {
    return { network: true };
  }
  let parsed;
  try {
    parsed = JSON.parse(await response.text());
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed };
}

/** apiCall with the usual 401 handling: refresh the token once and ask again. */
export async function apiCallWithRefresh(session, method, path, body) {
  const first = await apiCall(session, method, path, body);
  if (first.status !== 401) return first;
  await session.refresh(); // throws SignInRequired when the refresh token is gone
  return apiCall(session, method, path, body);
}
