// Static rules the CSP and the spec set for the served files, checked in the source.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, test } from 'node:test';

const read = (path) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const pages = ['audio-only.html', 'in-session.html', 'agent.html'];
const scripts = readdirSync(new URL('../../js/', import.meta.url)).filter((f) => f.endsWith('.js')).map((f) => `js/${f}`);

describe('pages', () => {
  for (const page of pages) {
    test(`${page}: no inline script or style (script-src 'self'; style-src 'self')`, () => {
      const html = read(page);
      for (const tag of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
        assert.match(tag[1], /\bsrc="[^"]+"/, 'every script has a src');
        assert.equal(tag[2].trim(), '', 'and no body');
      }
      assert.doesNotMatch(html, /<style\b/);
      assert.doesNotMatch(html, /\sstyle="/);
      assert.doesNotMatch(html, /\son[a-z]+="/, 'no inline event handlers');
      assert.doesNotMatch(html, /https?:\/\//, 'nothing from another origin (no CDN)');
    });

    test(`${page}: loads the vendored Streams bundle before its module`, () => {
      const html = read(page);
      const streams = html.indexOf('src="vendor/connect-streams-min.js"');
      const module = html.search(/<script type="module" src="js\/[\w-]+\.js">/);
      assert.ok(streams > 0 && module > streams);
    });
  }
});

describe('scripts', () => {
  for (const file of scripts) {
    test(`${file}: renders by textContent only, evaluates no strings`, () => {
      const source = read(file).replace(/^\s*\/\/.*$/gm, '');
      assert.doesNotMatch(source, /\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(/);
      assert.doesNotMatch(source, /setAttribute\(\s*['"](on\w+|style)['"]/);
    });
  }

  test('no page starts a softphone of its own (initSoftphoneManager): audio is the CCP iframe\'s or nobody\'s', () => {
    for (const file of scripts) assert.doesNotMatch(read(file).replace(/^\s*\/\/.*$/gm, ''), /initSoftphoneManager/, file);
  });

  test('tokens are never stored: no localStorage, sessionStorage only for the PKCE verifier and state', () => {
    for (const file of scripts) {
      const source = read(file).replace(/^\s*\/\/.*$/gm, '');
      assert.doesNotMatch(source, /localStorage|document\.cookie|indexedDB/, file);
      if (file !== 'js/auth.js') assert.doesNotMatch(source, /sessionStorage/, file);
    }
    const auth = read('js/auth.js');
    const writes = [...auth.matchAll(/storage\.setItem\((.*)\);$/gm)].map((m) => m[1]);
    assert.deepEqual(writes, ['PKCE_KEY, JSON.stringify({ state, verifier })']);
  });
});
