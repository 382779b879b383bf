// Signing the agent in to the user pool: Cognito managed login, authorization code + PKCE (S256),
// on the public client `DesktopUserPoolClient` (no secret: this is a browser), against the standard
// endpoints `<domain>/oauth2/authorize` and `<domain>/oauth2/token`.
//
// - Tokens stay in this object's memory, never in storage: a reload signs in again (managed login
//   keeps its own session cookie, so that is one redirect, not a password).
// - Only the PKCE verifier and the state survive the first redirect, in sessionStorage, and are
//   deleted as soon as the agent is back: they are single-use and worthless without the code.
// - The first sign-in redirects the whole page, before the CCP starts. Later ones (the refresh token
//   has expired, 12 h) use a popup so the CCP, and a call in it, is not reloaded. The popup lands on
//   agent.html too (the one registered callback) and hands the code back over a BroadcastChannel:
//   its opener reference does not survive the trip through the Cognito domain under
//   `Cross-Origin-Opener-Policy: same-origin-allow-popups`.

const PKCE_KEY = 'switchboard.desktop.pkce';
const CHANNEL = 'switchboard.desktop.signin';
const POPUP_STATE_PREFIX = 'popup.';
/** Refresh this long before the ID token expires, so an /api call never carries a stale one. */
const REFRESH_MARGIN_MS = 5 * 60 * 1000;
export const SCOPES = 'openid email';

export class SignInRequired extends Error {
  constructor(message = 'sign in again') {
    super(message);
    this.name = 'SignInRequired';
  }
}

export function base64url(bytes) {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A PKCE pair (RFC 7636): 32 random bytes as the verifier, its SHA-256 as the S256 challenge. */
export async function pkcePair(cryptoImpl = globalThis.crypto) {
  const verifier = base64url(cryptoImpl.getRandomValues(new Uint8Array(32)));
  const digest = await cryptoImpl.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return { verifier, challenge: base64url(new Uint8Array(digest)) };
}

export function randomState(cryptoImpl = globalThis.crypto) {
  return base64url(cryptoImpl.getRandomValues(new Uint8Array(16)));
}

/**
 * The claims of a JWT, read without verifying it: the page only needs to know what the token says
 * (`custom:connectUserId`, `exp`); the API's JWT authorizer is what verifies it.
 */
export function jwtClaims(token) {
  const part = typeof token === 'string' ? token.split('.')[1] : undefined;
  if (!part) return {};
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === 'object' ? claims : {};
  } catch {
    return {};
  }
}

export function authorizeUrl({ domain, clientId, redirectUri, state, challenge }) {
  const url = new URL('/oauth2/authorize', domain);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: SCOPES,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  return url.href;
}

/**
 * In the sign-in popup: agent.html was loaded with `?code&state=popup.…`. Hands the answer to the
 * opening page and closes. Returns true when this window was such a popup (the page does nothing else).
 */
export function finishPopupSignIn(location = window.location) {
  const params = new URLSearchParams(location.search);
  const state = params.get('state');
  if (!state || !state.startsWith(POPUP_STATE_PREFIX)) return false;
  const channel = new BroadcastChannel(CHANNEL);
  channel.postMessage({ state, code: params.get('code'), error: params.get('error') });
  channel.close();
  window.close();
  return true;
}

export class Session {
  constructor({ domain, clientId, redirectUri, fetchImpl = globalThis.fetch.bind(globalThis), storage = sessionStorage, clock = Date.now }) {
    this.domain = domain;
    this.clientId = clientId;
    this.redirectUri = redirectUri;
    this.fetch = fetchImpl;
    this.storage = storage;
    this.clock = clock;
    this.tokens = null;
    this.refreshing = null;
    this.refreshTimer = null;
    this.listeners = new Set();
  }

  get idToken() {
    return this.tokens?.idToken ?? null;
  }

  claims() {
    return jwtClaims(this.idToken);
  }

  /** Called with 'signed-in', 'refreshed' or 'sign-in-required'. */
  onChange(listener) {
    this.listeners.add(listener);
  }

  emit(event) {
    for (const listener of this.listeners) listener(event);
  }

  /**
   * On page load. Back from managed login (`?code&state`): exchange the code and return true.
   * Otherwise start the first sign-in: redirect to managed login and return false (the page unloads).
   * Throws Error with a message for a refused or tampered sign-in.
   */
  async begin(location = window.location, history = window.history) {
    const params = new URLSearchParams(location.search);
    if (params.has('code') || params.has('error')) {
      const saved = this.takeSavedPkce();
      // Clean the address bar either way: the code is single-use and should not be bookmarked.
      history.replaceState(null, '', location.pathname);
      if (params.has('error')) throw new Error(`managed login refused: ${params.get('error')}`);
      if (!saved || saved.state !== params.get('state')) throw new Error('the sign-in answer does not belong to this page');
      await this.exchangeCode(params.get('code'), saved.verifier);
      return true;
    }
    const { verifier, challenge } = await pkcePair();
    const state = randomState();
    this.storage.setItem(PKCE_KEY, JSON.stringify({ state, verifier }));
    location.assign(authorizeUrl({ domain: this.domain, clientId: this.clientId, redirectUri: this.redirectUri, state, challenge }));
    return false;
  }

  takeSavedPkce() {
    const raw = this.storage.getItem(PKCE_KEY);
    this.storage.removeItem(PKCE_KEY);
    try {
      return raw ? JSON.parse(raw) : null;
    } catch {
      return null;
    }
  }

  /** A later sign-in in a popup (call it from a click: browsers block popups without one). */
  async signInWithPopup() {
    const { verifier, challenge } = await pkcePair();
    const state = POPUP_STATE_PREFIX + randomState();
    const url = authorizeUrl({ domain: this.domain, clientId: this.clientId, redirectUri: this.redirectUri, state, challenge });
    const channel = new BroadcastChannel(CHANNEL);
    const answer = new Promise((resolve, reject) => {
      channel.onmessage = (event) => {
        if (event.data?.state !== state) return; // another tab's sign-in
        channel.close();
        if (event.data.error || !event.data.code) reject(new Error(`managed login refused: ${event.data.error}`));
        else resolve(event.data.code);
      };
    });
    const popup = window.open(url, 'switchboard-signin', 'width=480,height=640');
    if (!popup) {
      channel.close();
      throw new Error('the sign-in window was blocked');
    }
    await this.exchangeCode(await answer, verifier);
  }

  async exchangeCode(code, verifier) {
    const tokens = await this.tokenRequest({
      grant_type: 'authorization_code',
      client_id: this.clientId,
      code,
      redirect_uri: this.redirectUri,
      code_verifier: verifier,
    });
    if (!tokens.refresh_token) throw new Error('managed login sent no refresh token');
    this.store(tokens, tokens.refresh_token);
    this.emit('signed-in');
  }

  /**
   * A new ID token from the refresh token (after onboarding, so the token carries
   * custom:connectUserId, on a 401, and before expiry). Concurrent callers share one request.
   * Throws SignInRequired when the refresh token is gone or refused.
   */
  refresh() {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async doRefresh() {
    const refreshToken = this.tokens?.refreshToken;
    if (!refreshToken) throw this.signInRequired();
    let tokens;
    try {
      tokens = await this.tokenRequest({ grant_type: 'refresh_token', client_id: this.clientId, refresh_token: refreshToken });
    } catch (error) {
      if (error instanceof SignInRequired) throw this.signInRequired();
      throw error;
    }
    // Cognito sends a new refresh token only when rotation is on; otherwise the old one stays valid.
    this.store(tokens, tokens.refresh_token ?? refreshToken);
    this.emit('refreshed');
  }

  signInRequired() {
    this.tokens = null;
    clearTimeout(this.refreshTimer);
    this.emit('sign-in-required');
    return new SignInRequired();
  }

  async tokenRequest(form) {
    let response;
    try {
      response = await this.fetch(new URL('/oauth2/token', this.domain).href, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch {
      throw new Error('managed login could not be reached');
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    // invalid_grant: the code or refresh token is expired, used or revoked.
    if (response.status === 400 && body?.error === 'invalid_grant') throw new SignInRequired();
    if (!response.ok || typeof body?.id_token !== 'string') throw new Error(`managed login answered HTTP ${response.status}`);
    return body;
  }

  store(tokens, refreshToken) {
    const expiresIn = Number(tokens.expires_in) > 0 ? Number(tokens.expires_in) : 3600;
    this.tokens = { idToken: tokens.id_token, accessToken: tokens.access_token, refreshToken, expiresAt: this.clock() + expiresIn * 1000 };
    clearTimeout(this.refreshTimer);
    const wait = Math.max(0, this.tokens.expiresAt - this.clock() - REFRESH_MARGIN_MS);
    this.refreshTimer = setTimeout(() => this.refresh().catch(() => {}), wait);
  }
}
