// The CloudFront Function, loaded as CloudFront loads it: a script with a top-level `handler`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import vm from 'node:vm';

const source = readFileSync(new URL('../../cloudfront/strip-api.js', import.meta.url), 'utf8');

function loadHandler() {
  const context = vm.createContext({});
  vm.runInContext(source, context, { filename: 'strip-api.js' });
  assert.equal(typeof context.handler, 'function', 'a top-level function handler');
  return context.handler;
}

// A viewer-request event as CloudFront Functions passes it (event structure version 1.0).
function event(uri, querystring = {}) {
  return {
    version: '1.0',
    context: { eventType: 'viewer-request', distributionId: 'EDFDVBD6EXAMPLE', requestId: 'r-1' },
    viewer: { ip: '198.51.100.11' },
    request: { method: 'GET', uri, querystring, headers: { host: { value: 'desktop.example.com' } }, cookies: {} },
  };
}

describe('strip-api', () => {
  const handler = loadHandler();

  for (const [uri, expected] of [
    ['/api/session_info/4a573372-1f28-4e26-b97b-123456789abc', '/session_info/4a573372-1f28-4e26-b97b-123456789abc'],
    ['/api/setConnectUserId', '/setConnectUserId'],
    ['/api/', '/'],
    ['/api', '/'],
    ['/api/api/x', '/api/x'], // only the one prefix CloudFront added the behaviour for
    ['/apiary', '/apiary'], // not the /api/ prefix
    ['/agent.html', '/agent.html'],
    ['/api/session_info/a%2Fb', '/session_info/a%2Fb'], // still encoded as the viewer sent it
  ]) {
    test(`${uri} → ${expected}`, () => {
      assert.equal(handler(event(uri)).uri, expected);
    });
  }

  test('everything else passes through untouched', () => {
    const input = event('/api/session_info/x', { a: { value: '1' } });
    input.request.headers.cognitoidtoken = { value: 'eyJ...' };
    const out = handler(input);
    assert.deepEqual(out.querystring, { a: { value: '1' } });
    assert.deepEqual(out.headers, { host: { value: 'desktop.example.com' }, cognitoidtoken: { value: 'eyJ...' } });
    assert.equal(out.method, 'GET');
  });

  test('uses nothing beyond ES5.1 built-ins (no require, import, export)', () => {
    assert.doesNotMatch(source, /\b(require|import|export|module\.exports)\b/);
  });
});
