// config.json: written at deploy by publish-desktop, read by every page.
//
// Validation names the first bad key (`cognito.clientId`, `poll.factor`, …) so a broken deploy shows
// the operator what to fix instead of a blank page. Unknown keys are refused too: the file is public
// (any agent can read it), so nothing that is not on this list — a client secret, say — may ride along.

import { LOCALES } from './i18n.js';

export const DEFAULT_POLL = Object.freeze({
  initialMs: 2000, // first session_info poll 2 s after the previous answer
  factor: 1.5, // each interval 1.5 × the previous one
  maxMs: 15000, // never more than 15 s apart
  stillWaitingAfterMs: 600000, // after 10 minutes: "still waiting" and a Refresh button
});

export class ConfigError extends Error {
  constructor(key, reason) {
    super(`config.json: ${key}: ${reason}`);
    this.name = 'ConfigError';
    this.key = key;
    this.reason = reason;
  }
}

const TOP_LEVEL_KEYS = ['ccpUrl', 'loginUrl', 'cognito', 'connectLoginByEmail', 'locale', 'poll'];

// Loopback http is allowed for the local cloud and the tests; anything else must be https.
function isLoopback(hostname) {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

function parseUrl(key, value) {
  if (typeof value !== 'string' || value === '') throw new ConfigError(key, 'must be a URL');
  let url;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(key, 'must be an absolute URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    throw new ConfigError(key, 'must be an https URL');
  }
  if (url.username || url.password) throw new ConfigError(key, 'must not carry credentials');
  return url;
}

function validatePoll(raw) {
  if (raw === undefined) return DEFAULT_POLL;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError('poll', 'must be an object');
  for (const key of Object.keys(raw)) {
    if (!(key in DEFAULT_POLL)) throw new ConfigError(`poll.${key}`, 'unknown key');
  }
  const poll = { ...DEFAULT_POLL, ...raw };
  for (const key of Object.keys(DEFAULT_POLL)) {
    if (typeof poll[key] !== 'number' || !Number.isFinite(poll[key]) || poll[key] <= 0) {
      throw new ConfigError(`poll.${key}`, 'must be a positive number');
    }
  }
  if (poll.factor < 1) throw new ConfigError('poll.factor', 'must be at least 1');
  if (poll.maxMs < poll.initialMs) throw new ConfigError('poll.maxMs', 'must not be below poll.initialMs');
  return Object.freeze(poll);
}

/**
 * Checks a parsed config.json and returns it normalised (defaults filled in, frozen).
 * `needs` lists what the page requires beyond the CCP: the agent page needs `cognito` and
 * `connectLoginByEmail`; the split-audio pages do not. Throws ConfigError naming the key.
 */
export function validateConfig(raw, { needs = [] } = {}) {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError('(file)', 'must be a JSON object');
  for (const key of Object.keys(raw)) {
    if (!TOP_LEVEL_KEYS.includes(key)) throw new ConfigError(key, 'unknown key');
  }

  if (raw.ccpUrl === undefined) throw new ConfigError('ccpUrl', 'missing');
  const ccp = parseUrl('ccpUrl', raw.ccpUrl);
  // Both Connect domains end the CCP path in /ccp-v2/ (…my.connect.aws/ccp-v2/, …awsapps.com/connect/ccp-v2/).
  if (!/\/ccp-v2\/?$/.test(ccp.pathname)) throw new ConfigError('ccpUrl', 'must be the instance URL followed by /ccp-v2/');

  const config = { ccpUrl: ccp.href, instanceOrigin: ccp.origin };

  if (raw.loginUrl !== undefined && raw.loginUrl !== null && raw.loginUrl !== '') {
    config.loginUrl = parseUrl('loginUrl', raw.loginUrl).href;
  }

  if (raw.cognito !== undefined) {
    const c = raw.cognito;
    if (c === null || typeof c !== 'object' || Array.isArray(c)) throw new ConfigError('cognito', 'must be an object');
    for (const key of Object.keys(c)) {
      if (key !== 'domain' && key !== 'clientId') throw new ConfigError(`cognito.${key}`, 'unknown key');
    }
    if (c.domain === undefined) throw new ConfigError('cognito.domain', 'missing');
    const domain = parseUrl('cognito.domain', c.domain);
    if (domain.pathname !== '/' || domain.search || domain.hash) {
      throw new ConfigError('cognito.domain', 'must be the user-pool domain alone, without a path');
    }
    if (c.clientId === undefined) throw new ConfigError('cognito.clientId', 'missing');
    // Cognito's own pattern for client ids.
    if (typeof c.clientId !== 'string' || !/^[\w+]{1,128}$/.test(c.clientId)) {
      throw new ConfigError('cognito.clientId', 'must be an app client id');
    }
    config.cognito = Object.freeze({ domain: domain.origin, clientId: c.clientId });
  } else if (needs.includes('cognito')) {
    throw new ConfigError('cognito', 'missing');
  }

  if (raw.connectLoginByEmail !== undefined) {
    if (typeof raw.connectLoginByEmail !== 'boolean') throw new ConfigError('connectLoginByEmail', 'must be true or false');
    config.connectLoginByEmail = raw.connectLoginByEmail;
  } else if (needs.includes('connectLoginByEmail')) {
    throw new ConfigError('connectLoginByEmail', 'missing');
  }

  if (raw.locale !== undefined) {
    if (!LOCALES.includes(raw.locale)) throw new ConfigError('locale', `must be one of ${LOCALES.join(', ')}`);
    config.locale = raw.locale;
  } else {
    config.locale = 'en';
  }

  config.poll = validatePoll(raw.poll);
  return Object.freeze(config);
}

/** Fetches /config.json (never from cache: publish-desktop rewrites it in place) and validates it. */
export async function loadConfig(options, fetchImpl = globalThis.fetch) {
  let response;
  try {
    response = await fetchImpl('config.json', { cache: 'no-cache', credentials: 'same-origin' });
  } catch {
    throw new ConfigError('(file)', 'could not be loaded');
  }
  if (!response.ok) throw new ConfigError('(file)', `could not be loaded (HTTP ${response.status})`);
  let raw;
  try {
    raw = await response.json();
  } catch {
    throw new ConfigError('(file)', 'is not valid JSON');
  }
  return validateConfig(raw, options);
}
