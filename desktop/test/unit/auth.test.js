// The sign-in's pure parts and the token handling, against a stub token endpoint.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';

import { Session, SignInRequired, authorizeUrl, base64url, jwtClaims, pkcePair } from '../../js/auth.js';

const jwt = (claims) => `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`;

describe('PKCE', () => {
  test('S256: the challenge is base64url(SHA-256(verifier)), the verifier 43 URL-safe characters', async () => {
    const { verifier, challenge } = await pkcePair();
    assert.match(verifier, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(challenge, createHash('sha256').update(verifier).digest('base64url'));
  });

  test('base64url has no padding and no + or /', () => {
    assert.equal(base64url(new Uint8Array([251, 255, 191])), '-_-_');
  });

  test('the authorize URL names the code flow, the client, the callback and the challenge', () => {
    const url = new URL(authorizeUrl({ domain: 'https://x.auth.eu-west-1.amazoncognito.com', clientId: 'cid', redirectUri: 'https://d.example.com/agent.html', state: 'st', challenge: 'ch' }));
    assert.equal(url.origin + url.pathname, 'https://x.auth.eu-west-1.amazoncognito.com/oauth2/authorize');
    assert.deepEqual(Object.fromEntries(url.searchParams), {
      response_type: 'code',
      client_id: 'cid',
      redirect_uri: 'https://d.example.com/agent.html',
      scope: 'openid email',
      state: 'st',
      code_challenge: 'ch',
      code_challenge_method: 'S256',
    });
  });
});

describe('jwtClaims', () => {
  test('reads the payload, UTF-8 included', () => {
    assert.deepEqual(jwtClaims(jwt({ email: 'zoë@example.com', 'custom:connectUserId': 'u-1' })), { email: 'zoë@example.com', 'custom:connectUserId': 'u-1' });
  });
  for (const token of [null, undefined, '', 'abc', 'a.!!!.c', `a.${Buffer.from('[1]').toString('base64url')}.c`]) {
    test(`nothing from ${JSON.stringify(token)}`, () => assert.equal(typeof jwtClaims(token), 'object'));
  }
});

describe('Session tokens', () => {
  function stubEndpoint(answers) {
    const calls = [];
    const fetchImpl = async (url, init) => {
      calls.push({ url, form: Object.fromEntries(new URLSearchParams(init.body)), init });
      const [status, body] = answers.shift();
      return { status, ok: status === 200, json: async () => body };
    };
    return { calls, fetchImpl };
  }
  const memory = () => {
    const map = new Map();
    return { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => map.set(k, v), removeItem: (k) => map.delete(k), map };
  };
  const make = (fetchImpl, storage = memory()) => new Session({ domain: 'https://auth.example.com', clientId: 'cid', redirectUri: 'https://d.example.com/agent.html', fetchImpl, storage });

  test('the first sign-in saves only state and verifier, then redirects to managed login', async () => {
    const storage = memory();
    const session = make(async () => assert.fail('no token call yet'), storage);
    let went;
    const ok = await session.begin({ search: '', pathname: '/agent.html', assign: (url) => { went = url; } }, { replaceState() {} });
    assert.equal(ok, false);
    const url = new URL(went);
    const saved = JSON.parse(storage.map.get('switchboard.desktop.pkce'));
    assert.deepEqual(Object.keys(saved).sort(), ['state', 'verifier']);
    assert.equal(url.searchParams.get('state'), saved.state);
    assert.equal(url.searchParams.get('code_challenge'), createHash('sha256').update(saved.verifier).digest('base64url'));
    clearTimeout(session.refreshTimer);
  });

  test('back with the code: exchanges it with the verifier, keeps tokens in memory only, cleans the URL', async () => {
    const storage = memory();
    storage.setItem('switchboard.desktop.pkce', JSON.stringify({ state: 'st', verifier: 'ver' }));
    const { calls, fetchImpl } = stubEndpoint([[200, { id_token: jwt({ email: 'a@b' }), access_token: 'at', refresh_token: 'rt', expires_in: 3600 }]]);
    const session = make(fetchImpl, storage);
    let cleaned;
    const ok = await session.begin({ search: '?code=c0de&state=st', pathname: '/agent.html' }, { replaceState: (s, t, url) => { cleaned = url; } });
    assert.equal(ok, true);
    assert.equal(cleaned, '/agent.html');
    assert.equal(calls[0].url, 'https://auth.example.com/oauth2/token');
    assert.equal(calls[0].init.headers['Content-Type'], 'application/x-www-form-urlencoded');
    assert.deepEqual(calls[0].form, { grant_type: 'authorization_code', client_id: 'cid', code: 'c0de', redirect_uri: 'https://d.example.com/agent.html', code_verifier: 'ver' });
    assert.equal(session.claims().email, 'a@b');
    assert.equal(storage.map.size, 0, 'nothing left in storage');
    clearTimeout(session.refreshTimer);
  });

  test('a state that does not match is refused', async () => {
    const storage = memory();
    storage.setItem('switchboard.desktop.pkce', JSON.stringify({ state: 'mine', verifier: 'ver' }));
    const session = make(async () => assert.fail('no exchange'), storage);
    await assert.rejects(session.begin({ search: '?code=c&state=theirs', pathname: '/agent.html' }, { replaceState() {} }), /does not belong/);
  });

  test('refresh: the refresh_token grant, concurrent callers share one request', async () => {
    const { calls, fetchImpl } = stubEndpoint([[200, { id_token: jwt({ n: 2 }), access_token: 'at2', expires_in: 3600 }]]);
    const session = make(fetchImpl);
    session.store({ id_token: jwt({ n: 1 }), access_token: 'at', expires_in: 3600 }, 'rt');
    await Promise.all([session.refresh(), session.refresh(), session.refresh()]);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0].form, { grant_type: 'refresh_token', client_id: 'cid', refresh_token: 'rt' });
    assert.equal(session.claims().n, 2);
    assert.equal(session.tokens.refreshToken, 'rt', 'kept when Cognito sends no new one');
    clearTimeout(session.refreshTimer);
  });

  test('an expired refresh token (invalid_grant) means sign in again', async () => {
    const { fetchImpl } = stubEndpoint([[400, { error: 'invalid_grant' }]]);
    const session = make(fetchImpl);
    session.store({ id_token: jwt({}), expires_in: 3600 }, 'rt');
    const events = [];
    session.onChange((e) => events.push(e));
    await assert.rejects(session.refresh(), SignInRequired);
    assert.equal(session.idToken, null);
    assert.deepEqual(events, ['sign-in-required']);
  });
});
