// Three loopback origins for the browser tests:
// - the site: desktop/ as CloudFront would serve it (the spec's headers per page), config.json from
//   the test, and a scripted stub of the agent API under /api;
// - the CCP origin (the config's ccpUrl): a fake CCP page that loads the same pinned Streams bundle
//   and speaks Streams' conduit protocol (fake-ccp.js), plus a login page for loginUrl;
// - a stub of Cognito's managed-login endpoints (authorization code + PKCE, refresh).
// Everything listens on 127.0.0.1 with a port the OS picks.

import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

import { responseHeaders } from './headers.js';

const support = dirname(fileURLToPath(import.meta.url));
export const DESKTOP = join(support, '..', '..', '..');
const STREAMS_BUNDLE = join(DESKTOP, 'vendor', 'connect-streams-min.js');

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.json': 'application/json' };
// What the bucket holds: the pages and their assets, nothing else of desktop/ (no tests, no node_modules).
const SERVED = /^\/(?:(?:audio-only|in-session|agent)\.html|js\/[\w-]+\.js|css\/[\w-]+\.css|i18n\/[\w-]+\.json|vendor\/connect-streams-min\.js)$/;

function listen(handler) {
  return new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      handler(req, res).catch((error) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(String(error?.stack ?? error));
      });
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        origin: `http://127.0.0.1:${port}`,
        close: () => new Promise((done) => {
          server.closeAllConnections();
          server.close(() => done());
        }),
      });
    });
  });
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res, status, headers, body = '') {
  res.writeHead(status, headers);
  res.end(body);
}

const json = (res, status, value, extra = {}) => send(res, status, { 'Content-Type': 'application/json', ...extra }, JSON.stringify(value));

export function b64url(value) {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** A JWT-shaped token (unsigned: the pages read claims, the stub API checks the token by identity). */
export function fakeJwt(claims) {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.${b64url('stub-signature')}`;
}

/**
 * The agents the stubs know. `connectUserId`: the id of their user in the (pretend) Connect
 * instance; `claim`: what the user pool has in custom:connectUserId (set by setConnectUserId).
 */
export function makeUsers() {
  return {
    alice: { email: 'alice+video@example.com', connectUserId: '0b3c5e2a-1d4f-4a6b-9c8d-7e6f5a4b3c2d', claim: null },
    bob: { email: 'bob@example.com', connectUserId: '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a', claim: null },
  };
}

export const INSTANCE_ID = '1a2b3c4d-1111-4222-8333-444455556666';
export const agentArn = (user) => `arn:aws:connect:eu-west-2:123456789012:instance/${INSTANCE_ID}/agent/${user.connectUserId}`;

/** The Cognito stub: `/oauth2/authorize` signs `signedInAs` in at once; `/oauth2/token` checks PKCE. */
export async function startCognito({ users, clientId = 'desktopclient0123456789abcd' }) {
  const codes = new Map(); // code → {user, challenge, redirectUri}
  const refreshTokens = new Map(); // refresh token → user name
  const idTokens = new Map(); // id token → {user, revoked}
  const state = { signedInAs: 'alice', tokenRequests: [], authorizeRequests: [] };

  const issue = (name) => {
    const user = users[name];
    const claims = { sub: `sub-${name}`, email: user.email, 'cognito:username': name, aud: clientId, token_use: 'id', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 3600, jti: randomBytes(6).toString('hex') };
    if (user.claim) claims['custom:connectUserId'] = user.claim;
    const idToken = fakeJwt(claims);
    idTokens.set(idToken, { user: name, revoked: false });
    return idToken;
  };

  const server = await listen(async (req, res) => {
    const url = new URL(req.url, 'http://stub');
    if (req.method === 'GET' && url.pathname === '/oauth2/authorize') {
      const p = Object.fromEntries(url.searchParams);
      state.authorizeRequests.push(p);
      if (p.response_type !== 'code' || p.client_id !== clientId || p.code_challenge_method !== 'S256' || !p.code_challenge || !p.redirect_uri) {
        return send(res, 400, { 'Content-Type': 'text/plain' }, 'bad authorize request');
      }
      const code = randomBytes(12).toString('hex');
      codes.set(code, { user: state.signedInAs, challenge: p.code_challenge, redirectUri: p.redirect_uri });
      const back = new URL(p.redirect_uri);
      back.searchParams.set('code', code);
      if (p.state) back.searchParams.set('state', p.state);
      return send(res, 302, { Location: back.href });
    }
    if (req.method === 'POST' && url.pathname === '/oauth2/token') {
      // Cognito answers the token endpoint with CORS for browser (public) clients.
      const cors = { 'Access-Control-Allow-Origin': req.headers.origin ?? '*' };
      const form = Object.fromEntries(new URLSearchParams(await readBody(req)));
      state.tokenRequests.push(form);
      if (form.client_id !== clientId) return json(res, 400, { error: 'invalid_client' }, cors);
      if (form.grant_type === 'authorization_code') {
        const grant = codes.get(form.code);
        codes.delete(form.code); // single use
        const verified = grant && createHash('sha256').update(form.code_verifier ?? '').digest('base64url') === grant.challenge;
        if (!grant || !verified || form.redirect_uri !== grant.redirectUri) return json(res, 400, { error: 'invalid_grant' }, cors);
        const refreshToken = randomBytes(16).toString('hex');
        refreshTokens.set(refreshToken, grant.user);
        return json(res, 200, { id_token: issue(grant.user), access_token: 'stub-access', refresh_token: refreshToken, expires_in: 3600, token_type: 'Bearer' }, cors);
      }
      if (form.grant_type === 'refresh_token') {
        const name = refreshTokens.get(form.refresh_token);
        if (!name) return json(res, 400, { error: 'invalid_grant' }, cors);
        return json(res, 200, { id_token: issue(name), access_token: 'stub-access', expires_in: 3600, token_type: 'Bearer' }, cors);
      }
      return json(res, 400, { error: 'unsupported_grant_type' }, cors);
    }
    return send(res, 404, { 'Content-Type': 'text/plain' }, 'not found');
  });

  return {
    ...server,
    clientId,
    state,
    /** Who the token carries, or null for an unknown or revoked token (the API then answers 401). */
    userOf(idToken) {
      const entry = idTokens.get(idToken);
      return entry && !entry.revoked ? entry.user : null;
    },
    revokeIdTokens() {
      for (const entry of idTokens.values()) entry.revoked = true;
    },
    revokeRefreshTokens() {
      refreshTokens.clear();
    },
  };
}

/**
 * The site: desktop/ with the spec's headers, config.json from `site.config`, /api from the stub.
 * `sessionInfo`: contact id → list of answers `{status, body}`, consumed in order, the last repeated.
 */
export async function startSite({ users, cognito, ccpOrigin }) {
  const site = {
    config: null,
    sessionInfo: new Map(),
    apiCalls: [],
  };

  const api = async (req, res, path) => {
    const token = req.headers.cognitoidtoken;
    const body = req.method === 'POST' ? await readBody(req) : '';
    site.apiCalls.push({ method: req.method, path, token, body });
    const name = token ? cognito.userOf(token) : null;
    if (!name) return json(res, 401, { message: 'Unauthorized' });
    const user = users[name];
    if (req.method === 'POST' && path === '/setConnectUserId') {
      // As set-connect-user-id: once, and only the caller's own Connect user.
      const parsed = JSON.parse(body);
      if (user.claim) return json(res, 400, { message: 'custom:connectUserId: the token already has a Connect user id', code: 'BadRequest' });
      if (parsed.connectUserId !== user.connectUserId) return json(res, 400, { message: `connectUserId: ${parsed.connectUserId} is not your Connect user`, code: 'BadRequest' });
      user.claim = parsed.connectUserId;
      return json(res, 200, { success: true, data: { connectUserId: user.claim } });
    }
    const match = /^\/session_info\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && match) {
      const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
      if (!claims['custom:connectUserId']) return json(res, 403, { message: 'the token has no custom:connectUserId claim' });
      const answers = site.sessionInfo.get(decodeURIComponent(match[1]));
      if (!answers || answers.length === 0) return json(res, 404, { message: 'no ID Contact session is linked to this contact' });
      const answer = answers.length > 1 ? answers.shift() : answers[0];
      return json(res, answer.status, answer.body);
    }
    return json(res, 404, { message: 'Not Found' });
  };

  const server = await listen(async (req, res) => {
    const url = new URL(req.url, 'http://site');
    const headers = responseHeaders(url.pathname, { instanceUrl: ccpOrigin, cognitoDomain: cognito.origin });
    if (url.pathname.startsWith('/api/')) return api(req, res, url.pathname.slice(4));
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { Allow: 'GET, HEAD' });
    if (url.pathname === '/config.json') {
      const text = typeof site.config === 'string' ? site.config : JSON.stringify(site.config);
      return send(res, 200, { ...headers, 'Content-Type': 'application/json' }, text);
    }
    if (!SERVED.test(url.pathname)) return send(res, 404, { ...headers, 'Content-Type': 'text/plain' }, 'not found');
    const file = normalize(join(DESKTOP, url.pathname));
    const content = await readFile(file);
    return send(res, 200, { ...headers, 'Content-Type': TYPES[extname(file)] }, req.method === 'HEAD' ? '' : content);
  });
  return Object.assign(site, server);
}

/**
 * The CCP origin. `ccp.mode`: 'answer' (the handshake is answered) or 'withhold' (it is not, as
 * when the agent is not signed in: Streams then opens the login popup at loginUrl).
 * It allows framing only by the approved origins, as Connect does.
 */
export async function startCcp() {
  const ccp = { mode: 'answer', approvedOrigins: [], loginVisits: 0 };
  const page = await readFile(join(support, 'fake-ccp.html'), 'utf8');
  const server = await listen(async (req, res) => {
    const url = new URL(req.url, 'http://ccp');
    if (url.pathname === '/ccp-v2/' || url.pathname === '/ccp-v2') {
      const html = page.replace('{{MODE}}', ccp.mode);
      return send(res, 200, { 'Content-Type': TYPES['.html'], 'Content-Security-Policy': `frame-ancestors ${ccp.approvedOrigins.join(' ') || "'none'"}`, 'Cache-Control': 'no-store' }, html);
    }
    if (url.pathname === '/ccp-v2/fake-ccp.js') {
      return send(res, 200, { 'Content-Type': TYPES['.js'] }, await readFile(join(support, 'fake-ccp.js')));
    }
    if (url.pathname === '/ccp-v2/connect-streams-min.js') {
      return send(res, 200, { 'Content-Type': TYPES['.js'] }, await readFile(STREAMS_BUNDLE));
    }
    if (url.pathname === '/login') {
      ccp.loginVisits += 1;
      return send(res, 200, { 'Content-Type': TYPES['.html'] }, '<!doctype html><title>Sign in to Amazon Connect</title><link rel="icon" href="data:,"><p>Fake instance login</p>');
    }
    return send(res, 404, { 'Content-Type': 'text/plain' }, 'not found');
  });
  Object.assign(ccp, server, { ccpUrl: `${server.origin}/ccp-v2/`, loginUrl: `${server.origin}/login` });
  return ccp;
}
