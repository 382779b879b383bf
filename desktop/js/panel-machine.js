// The attribute panel's state machine: what one `GET /api/session_info/{contact_id}` answer means for
// the panel and when to ask again. Pure functions, no DOM and no timers, so every row of the spec's
// table is a unit test (test/unit/panel-machine.test.js); panel.js drives it with real fetches.
//
// | answer                         | panel                                  | polling  |
// |--------------------------------|----------------------------------------|----------|
// | 200, auth_result null          | purpose, "waiting for verification"    | continue |
// | 200, status "succes"           | purpose, "verified", attributes        | stop     |
// | 200, status "failed"           | "verification failed", no attributes   | stop     |
// | 404                            | "caller not identified" after 3 tries  | stop     |
// | 403                            | retried while connecting, then "not your contact" | stop |
// | 401                            | one silent refresh, then "sign in again" | paused |
// | 429, 5xx, network              | "unavailable, retrying" after 3 failures in a row | backoff |
// | anything else                  | "unexpected answer"                    | stop     |
//
// Intervals: 2 s, ×1.5, at most 15 s (config `poll`); after 10 minutes "still waiting" and Refresh.
// "Still waiting" is a statement about the caller, so only an answer can lead to it: during an outage
// the panel keeps saying "unavailable, retrying" and keeps retrying at the longest interval for as
// long as the contact lasts (a panel closes with its contact); when the service answers again, that
// answer decides (verified, or "still waiting" if the 10 minutes have passed meanwhile).

export const VIEW = Object.freeze({
  LOADING: 'loading',
  WAITING: 'waiting',
  VERIFIED: 'verified',
  FAILED: 'failed',
  NOT_IDENTIFIED: 'not_identified',
  NOT_YOURS: 'not_yours',
  SIGN_IN: 'sign_in',
  UNAVAILABLE: 'unavailable',
  UNEXPECTED: 'unexpected',
  STILL_WAITING: 'still_waiting',
});

/** How many 404s in a row before "not identified" (the link may land a moment after the contact). */
export const NOT_FOUND_TRIES = 3;
/** How many 429/5xx/network failures in a row before the panel says "unavailable, retrying". */
export const FAILURES_BEFORE_UNAVAILABLE = 3;

/** The wait before poll number `polls` (0-based): initial × factor^polls, capped. */
export function nextDelay(polls, poll) {
  return Math.min(poll.maxMs, Math.round(poll.initialMs * poll.factor ** polls));
}

/** A new panel: shows "loading" and asks at once. */
export function startPanel(now) {
  const state = { view: { kind: VIEW.LOADING }, purpose: null, startedAt: now, polls: 0, notFound: 0, failures: 0, refreshed: false };
  return { state, effect: { type: 'poll', delayMs: 0 } };
}

/** The Refresh button (after "still waiting") and the end of a sign-in: a fresh 10 minutes, asking at once. */
export function restartPanel(state, now) {
  const view = state.view.kind === VIEW.STILL_WAITING || state.view.kind === VIEW.SIGN_IN ? loadingOrWaiting(state) : state.view;
  return {
    state: { ...state, view, startedAt: now, polls: 0, notFound: 0, failures: 0, refreshed: false },
    effect: { type: 'poll', delayMs: 0 },
  };
}

function loadingOrWaiting(state) {
  return state.purpose === null ? { kind: VIEW.LOADING } : { kind: VIEW.WAITING, purpose: state.purpose };
}

/**
 * Parses a 200 body. Returns null for anything that is not the documented shape, so that a
 * surprising answer becomes "unexpected answer" instead of an exception (the original crashed on
 * `Object.entries(undefined)` for a failed result without attributes).
 */
export function parseSessionInfo(body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return null;
  if (typeof body.purpose !== 'string') return null;
  if (body.auth_result === null) return { purpose: body.purpose, result: null };
  const r = body.auth_result;
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return null;
  // `succes` with one s at the end is the ID Contact wire value.
  if (r.status !== 'succes' && r.status !== 'failed') return null;
  let attributes = {};
  if (r.attributes !== undefined && r.attributes !== null) {
    if (typeof r.attributes !== 'object' || Array.isArray(r.attributes)) return null;
    for (const value of Object.values(r.attributes)) {
      if (typeof value !== 'string') return null;
    }
    attributes = { ...r.attributes };
  }
  return { purpose: body.purpose, result: { status: r.status, attributes } };
}

/**
 * One answer in, the next state and what to do out.
 * `answer`: `{status, body}` for an HTTP answer (body: parsed JSON, or undefined when it was not
 * JSON), or `{network: true}` when fetch failed. `context.connecting`: whether the contact is still
 * connecting (403 is then retried: Connect may not name the agent on the contact yet).
 * Effects: `{type: 'poll', delayMs}`, `{type: 'refresh'}` (refresh the token, then poll at once),
 * `{type: 'pause'}` (until the agent signs in again), `{type: 'stop'}`.
 */
export function onAnswer(state, answer, { now, poll, connecting = false }) {
  const status = answer.network ? 'network' : answer.status;

  if (status === 401) {
    if (!state.refreshed) return { state: { ...state, refreshed: true }, effect: { type: 'refresh' } };
    return { state: { ...state, view: { kind: VIEW.SIGN_IN, purpose: state.purpose } }, effect: { type: 'pause' } };
  }
  // Any other answer means the token worked (or was not the problem): a later 401 gets its own refresh.
  const base = { ...state, refreshed: false };

  if (status === 'network' || status === 429 || (status >= 500 && status <= 599)) {
    const failures = base.failures + 1;
    const view = failures >= FAILURES_BEFORE_UNAVAILABLE ? { kind: VIEW.UNAVAILABLE, purpose: base.purpose } : base.view;
    // No "still waiting" here: that would say the caller has not verified, which nobody knows while
    // the service is down (a long outage used to end in "still waiting" and stop asking).
    return retry({ ...base, failures, notFound: 0, view }, poll);
  }
  const settled = { ...base, failures: 0 };

  if (status === 404) {
    const notFound = settled.notFound + 1;
    if (notFound >= NOT_FOUND_TRIES) return stop({ ...settled, notFound }, { kind: VIEW.NOT_IDENTIFIED });
    return keepPolling({ ...settled, notFound }, now, poll);
  }
  const found = { ...settled, notFound: 0 };

  if (status === 403) {
    if (connecting) return keepPolling(found, now, poll);
    return stop(found, { kind: VIEW.NOT_YOURS });
  }

  if (status === 200) {
    const info = parseSessionInfo(answer.body);
    if (info === null) return stop(found, { kind: VIEW.UNEXPECTED });
    const known = { ...found, purpose: info.purpose };
    if (info.result === null) return keepPolling({ ...known, view: { kind: VIEW.WAITING, purpose: info.purpose } }, now, poll);
    if (info.result.status === 'succes') {
      return stop(known, { kind: VIEW.VERIFIED, purpose: info.purpose, attributes: info.result.attributes });
    }
    // A failed result never shows attributes, even when it carries some: they were not verified.
    return stop(known, { kind: VIEW.FAILED, purpose: info.purpose });
  }

  return stop(found, { kind: VIEW.UNEXPECTED });
}

function stop(state, view) {
  return { state: { ...state, view }, effect: { type: 'stop' } };
}

function keepPolling(state, now, poll) {
  if (now - state.startedAt >= poll.stillWaitingAfterMs) {
    return stop(state, { kind: VIEW.STILL_WAITING, purpose: state.purpose });
  }
  return retry(state, poll);
}

function retry(state, poll) {
  return { state: { ...state, polls: state.polls + 1 }, effect: { type: 'poll', delayMs: nextDelay(state.polls, poll) } };
}

/** Attributes as rows sorted by their translated label (the original showed HashMap order). */
export function sortedAttributes(attributes, label, locale) {
  return Object.entries(attributes)
    .map(([key, value]) => ({ key, label: label(key), value }))
    .sort((a, b) => a.label.localeCompare(b.label, locale) || a.key.localeCompare(b.key));
}
