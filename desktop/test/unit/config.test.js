// config.json validation: every bad key is named; nothing outside the list (a secret) gets through.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ConfigError, DEFAULT_POLL, loadConfig, validateConfig } from '../../js/config.js';

const good = {
  ccpUrl: 'https://example.my.connect.aws/ccp-v2/',
  loginUrl: 'https://d-1234567890.awsapps.com/start/#/saml/default/Connect/ins-abc',
  cognito: { domain: 'https://switchboard-agents.auth.eu-west-1.amazoncognito.com', clientId: '4example5clientid6abcdefgh' },
  connectLoginByEmail: true,
  locale: 'nl',
};
const agentNeeds = { needs: ['cognito', 'connectLoginByEmail'] };

function badKey(raw, options) {
  try {
    validateConfig(raw, options);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `a ConfigError, not ${error}`);
    assert.match(error.message, new RegExp(`^config\\.json: ${error.key.replace(/[.()]/g, '\\$&')}: `));
    return error.key;
  }
  assert.fail('accepted');
}

describe('a good config', () => {
  test('is accepted, normalised and frozen', () => {
    const config = validateConfig(good, agentNeeds);
    assert.equal(config.ccpUrl, good.ccpUrl);
    assert.equal(config.instanceOrigin, 'https://example.my.connect.aws');
    assert.equal(config.loginUrl, good.loginUrl);
    assert.deepEqual(config.cognito, good.cognito);
    assert.equal(config.connectLoginByEmail, true);
    assert.equal(config.locale, 'nl');
    assert.deepEqual(config.poll, DEFAULT_POLL);
    assert.ok(Object.isFrozen(config));
  });

  test('the legacy awsapps.com CCP URL is accepted', () => {
    validateConfig({ ...good, ccpUrl: 'https://example.awsapps.com/connect/ccp-v2/' });
  });

  test('the split-audio pages need only ccpUrl; locale defaults to en; no loginUrl is fine', () => {
    const config = validateConfig({ ccpUrl: good.ccpUrl });
    assert.equal(config.locale, 'en');
    assert.equal(config.loginUrl, undefined);
    assert.equal(config.cognito, undefined);
  });

  test('loopback http is allowed for the local cloud', () => {
    validateConfig({ ccpUrl: 'http://127.0.0.1:4567/ccp-v2/', cognito: { domain: 'http://localhost:9000', clientId: 'abc' }, connectLoginByEmail: false }, agentNeeds);
  });

  test('poll can be tuned key by key', () => {
    const config = validateConfig({ ...good, poll: { initialMs: 500 } });
    assert.deepEqual(config.poll, { ...DEFAULT_POLL, initialMs: 500 });
  });
});

describe('a bad config names the key', () => {
  const cases = [
    ['not an object', [], '(file)'],
    ['null', null, '(file)'],
    ['no ccpUrl', { locale: 'en' }, 'ccpUrl'],
    ['ccpUrl not a URL', { ccpUrl: 'example.my.connect.aws' }, 'ccpUrl'],
    ['ccpUrl over http', { ccpUrl: 'http://example.my.connect.aws/ccp-v2/' }, 'ccpUrl'],
    ['ccpUrl without /ccp-v2/', { ccpUrl: 'https://example.my.connect.aws/' }, 'ccpUrl'],
    ['ccpUrl with credentials', { ccpUrl: 'https://u:p@example.my.connect.aws/ccp-v2/' }, 'ccpUrl'],
    ['loginUrl not a URL', { ccpUrl: good.ccpUrl, loginUrl: 42 }, 'loginUrl'],
    ['loginUrl over http', { ccpUrl: good.ccpUrl, loginUrl: 'http://sso.example.com/' }, 'loginUrl'],
    ['cognito not an object', { ...good, cognito: 'x' }, 'cognito'],
    ['cognito.domain missing', { ...good, cognito: { clientId: 'abc' } }, 'cognito.domain'],
    ['cognito.domain with a path', { ...good, cognito: { ...good.cognito, domain: 'https://x.auth.eu-west-1.amazoncognito.com/login' } }, 'cognito.domain'],
    ['cognito.clientId missing', { ...good, cognito: { domain: good.cognito.domain } }, 'cognito.clientId'],
    ['cognito.clientId with spaces', { ...good, cognito: { ...good.cognito, clientId: 'a b' } }, 'cognito.clientId'],
    ['a client secret', { ...good, cognito: { ...good.cognito, clientSecret: 's3cr3t' } }, 'cognito.clientSecret'],
    ['connectLoginByEmail as a string', { ...good, connectLoginByEmail: 'true' }, 'connectLoginByEmail'],
    ['an unknown locale', { ...good, locale: 'fr' }, 'locale'],
    ['poll not an object', { ...good, poll: 5 }, 'poll'],
    ['poll.factor below 1', { ...good, poll: { factor: 0.5 } }, 'poll.factor'],
    ['poll.initialMs negative', { ...good, poll: { initialMs: -1 } }, 'poll.initialMs'],
    ['poll.maxMs below initialMs', { ...good, poll: { initialMs: 5000, maxMs: 1000 } }, 'poll.maxMs'],
    ['poll with an unknown key', { ...good, poll: { jitter: 1 } }, 'poll.jitter'],
    ['an unknown top-level key (a secret would be one)', { ...good, apiKey: 'abc' }, 'apiKey'],
  ];
  for (const [name, raw, key] of cases) {
    test(`${name} → ${key}`, () => assert.equal(badKey(raw), key));
  }

  test('the agent page needs cognito and connectLoginByEmail', () => {
    assert.equal(badKey({ ccpUrl: good.ccpUrl, connectLoginByEmail: true }, agentNeeds), 'cognito');
    assert.equal(badKey({ ccpUrl: good.ccpUrl, cognito: good.cognito }, agentNeeds), 'connectLoginByEmail');
  });
});

describe('loadConfig', () => {
  const response = (status, text) => ({ ok: status >= 200 && status < 300, status, json: async () => JSON.parse(text) });

  test('fetches config.json without the cache and validates it', async () => {
    let asked;
    const config = await loadConfig({}, async (url, init) => {
      asked = { url, init };
      return response(200, JSON.stringify({ ccpUrl: good.ccpUrl }));
    });
    assert.equal(asked.url, 'config.json');
    assert.equal(asked.init.cache, 'no-cache');
    assert.equal(config.ccpUrl, good.ccpUrl);
  });

  for (const [name, fetchImpl, reason] of [
    ['a 404', async () => response(404, ''), /HTTP 404/],
    ['a network failure', async () => { throw new TypeError('failed'); }, /could not be loaded/],
    ['not JSON', async () => response(200, '<html>'), /not valid JSON/],
  ]) {
    test(`${name} is a ConfigError on (file)`, async () => {
      await assert.rejects(loadConfig({}, fetchImpl), (error) => error instanceof ConfigError && error.key === '(file)' && reason.test(error.reason));
    });
  }
});
