// Split audio (seed 001): what each page tells the CCP, and that the in-session page has no audio.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { agentArn } from './support/servers.js';
import { ccpFrame, setUp, until } from './support/harness.js';

const statusText = () => document.getElementById('status').textContent;

test('audio-only: the CCP receives allowFramedSoftphone true, ringtone on; the status names the agent', async (t) => {
  const env = await setUp(t);
  const { page, site, ccp, users } = env;
  const response = await page.goto(`${site.origin}/audio-only.html`);
  assert.match(response.headers()['permissions-policy'], new RegExp(`^microphone=\\(self "${ccp.origin}"\\)`));

  const frame = await ccpFrame(page, ccp);
  const configure = await until(frame, () => window.fakeCcp.configures[0], undefined, { what: 'CONFIGURE' });
  assert.equal(configure.softphone.allowFramedSoftphone, true);
  assert.equal(configure.softphone.disableRingtone, false);

  await frame.evaluate((arn) => window.fakeCcp.pushAgent({ agentARN: arn, name: 'Alice', contacts: [] }), agentArn(users.alice));
  await until(page, () => document.body.dataset.state === 'ready', undefined, { what: 'ready' });
  assert.match(await page.evaluate(statusText), /Call audio for Alice plays on this computer/);
  // The CCP is there (for its softphone) but hidden behind the status line.
  assert.equal(await page.$eval('#ccp', (el) => getComputedStyle(el).display), 'none');
  await env.screenshot('audio-only');
  env.assertClean();
});

test('in-session: allowFramedSoftphone false, ringtone off, no getUserMedia or RTCPeerConnection, microphone=() served', async (t) => {
  const env = await setUp(t);
  const { page, site, ccp, users } = env;
  // Wrapped before any script of the page (or of its frames) runs: any call is counted.
  await page.evaluateOnNewDocument(() => {
    window.__mediaCalls = [];
    const md = navigator.mediaDevices;
    if (md && md.getUserMedia) {
      const original = md.getUserMedia.bind(md);
      md.getUserMedia = (...args) => {
        window.__mediaCalls.push('getUserMedia');
        return original(...args);
      };
    }
    for (const name of ['RTCPeerConnection', 'webkitRTCPeerConnection']) {
      const Original = window[name];
      if (!Original) continue;
      window[name] = new Proxy(Original, {
        construct(target, args) {
          window.__mediaCalls.push(name);
          return Reflect.construct(target, args);
        },
      });
    }
  });
  const response = await page.goto(`${site.origin}/in-session.html`);
  assert.equal(response.headers()['permissions-policy'], 'microphone=(), camera=(), geolocation=()');
  assert.equal(await page.evaluate(() => document.featurePolicy.allowsFeature('microphone')), false);

  const frame = await ccpFrame(page, ccp);
  const configure = await until(frame, () => window.fakeCcp.configures[0], undefined, { what: 'CONFIGURE' });
  assert.deepEqual(configure.softphone, { allowFramedSoftphone: false, disableRingtone: true });

  // A call comes in and connects: still nothing may reach for the microphone or WebRTC.
  const arn = agentArn(users.alice);
  await frame.evaluate((a) => window.fakeCcp.pushAgent({ agentARN: a, name: 'Alice', contacts: [] }), arn);
  await frame.evaluate((a) => window.fakeCcp.pushAgent({ agentARN: a, name: 'Alice', contacts: [{ contactId: 'c-1', state: 'connecting' }] }), arn);
  await frame.evaluate((a) => window.fakeCcp.pushAgent({ agentARN: a, name: 'Alice', contacts: [{ contactId: 'c-1', state: 'connected' }] }), arn);
  await until(page, () => document.body.dataset.state === 'in-call', undefined, { what: 'in-call' });
  await env.screenshot('in-session');
  await new Promise((r) => setTimeout(r, 1500)); // a few keepalive rounds

  assert.deepEqual(await page.evaluate(() => window.__mediaCalls), []);
  assert.deepEqual(await frame.evaluate(() => window.__mediaCalls), []);
  assert.equal(await page.evaluate(() => Boolean(window.connect.core.softphoneManager)), false);
  assert.equal(await frame.evaluate(() => window.fakeCcp.configures.length), 1);
  env.assertClean();
});

test('with the handshake withheld, Streams opens the login popup at loginUrl', async (t) => {
  const env = await setUp(t);
  const { page, site, ccp, browser } = env;
  ccp.mode = 'withhold';
  const popup = browser.waitForTarget((target) => target.url() === ccp.loginUrl, { timeout: 15000 });
  await page.goto(`${site.origin}/audio-only.html`);
  const target = await popup;
  assert.equal(target.type(), 'page');
  assert.equal(ccp.loginVisits >= 1, true);
  await until(page, () => document.body.dataset.state === 'signing-in', undefined, { what: 'signing-in' });
  assert.match(await page.evaluate(statusText), /Sign in to Amazon Connect in the window that opened/);
  env.assertClean();
});

for (const page of ['audio-only', 'in-session', 'agent']) {
  test(`${page}: an invalid config names the bad key, the page is not blank`, async (t) => {
    const env = await setUp(t);
    env.site.config = { ...env.site.config, ccpUrl: 'http://connect.example.com/ccp-v2/' };
    await env.page.goto(`${env.site.origin}/${page}.html`);
    await until(env.page, () => document.body.dataset.state === 'config-error', undefined, { what: 'config-error' });
    assert.equal(await env.page.evaluate(statusText), 'This page is not configured correctly: ccpUrl must be an https URL.');
    assert.equal(await env.page.$$eval('iframe', (frames) => frames.length), 0, 'no CCP starts on a bad config');
    env.assertClean();
  });
}

test('a config that is not JSON says so, in the browser language (nl)', async (t) => {
  const env = await setUp(t);
  env.site.config = '{"ccpUrl": ';
  await env.page.setExtraHTTPHeaders({ 'Accept-Language': 'nl-NL,nl;q=0.9' });
  await env.page.evaluateOnNewDocument(() => {
    Object.defineProperty(navigator, 'languages', { get: () => ['nl-NL', 'nl'] });
  });
  await env.page.goto(`${env.site.origin}/in-session.html`);
  await until(env.page, () => document.body.dataset.state === 'config-error', undefined, { what: 'config-error' });
  assert.equal(await env.page.evaluate(statusText), 'Deze pagina is niet goed ingesteld: (file) is not valid JSON.');
  assert.equal(await env.page.evaluate(() => document.documentElement.lang), 'nl');
  env.assertClean();
});
