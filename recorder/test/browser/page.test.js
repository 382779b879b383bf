// The meeting page in Debian's headless chromium (puppeteer-core, as desktop/'s tests): it decodes
// the join data from the query, builds the Chime SDK's session configuration and tries to join.
// There is no Chime media here (every host name is made unresolvable, so the test is the same with or
// without a network): the join must fail, be caught and reported, and the page must stay up.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import puppeteer from 'puppeteer-core';

import { encodeJoinValue, joinQuery } from '../../lib/join-data.mjs';
import { pageUrlFromEnv } from '../../lib/page-url.mjs';
import { JOIN_TOKEN, attendee, meeting, meetingWithPlusAndSlash } from '../support/fixtures.js';
import { RECORDER, chromiumPath, until } from '../support/harness.js';

const PAGE = pathToFileURL(join(RECORDER, 'page', 'index.html')).href;

before(() => {
  // The bundle the page loads, built from the sources and the pinned SDK (npm run build).
  const build = spawnSync(process.execPath, [join(RECORDER, 'scripts', 'build-page.mjs')], { encoding: 'utf8' });
  assert.equal(build.status, 0, `npm run build failed:\n${build.stdout}${build.stderr}`);
});

/** Chromium with a fresh profile and one page, closed after the test. Returns { page, problems }. */
async function openBrowser(t) {
  const executablePath = chromiumPath();
  const profile = await mkdtemp(join(tmpdir(), 'recorder-chromium-'));
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    userDataDir: profile,
    args: [
      // Root in a container has no user namespaces for chromium's sandbox; the page is our own.
      '--no-sandbox',
      '--no-first-run',
      '--no-default-browser-check',
      // As run.sh launches it.
      '--autoplay-policy=no-user-gesture-required',
      '--use-fake-ui-for-media-stream',
      // No name resolves: the SDK's signaling and ingestion hosts fail at once, network or not.
      '--host-resolver-rules=MAP * ~NOTFOUND',
    ],
  });
  t.after(async () => {
    await browser.close().catch(() => {});
    await rm(profile, { recursive: true, force: true });
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 640, height: 360 });
  const problems = [];
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (/Security Policy Violation|Content Security Policy/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
  });
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`Content Security Policy violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
    });
  });
  return { page, problems };
}

const session = () => window.recorderSession;

test('the page decodes the join data (a + and / in the base64), builds the configuration, reports the failed join', async (t) => {
  const { page, problems } = await openBrowser(t);
  // Which WebSockets the SDK opens, and with which subprotocols (where it puts the join token).
  await page.evaluateOnNewDocument(() => {
    window.__sockets = [];
    const Native = window.WebSocket;
    window.WebSocket = new Proxy(Native, {
      construct(target, args) {
        window.__sockets.push({ url: String(args[0]), protocols: args[1] });
        return Reflect.construct(target, args);
      },
    });
  });
  const { value: meetingValue, encoded } = meetingWithPlusAndSlash();
  // The URL exactly as run.sh gets it from lib/page-url.mjs.
  const url = pageUrlFromEnv({ CHIME_MEETING_DATA: encoded, CHIME_ATTENDEE_DATA: encodeJoinValue(attendee()) }, PAGE);
  await page.goto(url);

  const state = await until(() => page.evaluate(() => window.recorderSession?.joinError && window.recorderSession), {
    timeoutMs: 20_000,
    what: 'the join to fail',
  });
  assert.equal(state.meetingId, meetingValue.MeetingId);
  assert.equal(state.externalMeetingId, meetingValue.ExternalMeetingId);
  assert.equal(state.attendeeId, attendee().AttendeeId);
  assert.equal(state.externalUserId, attendee().ExternalUserId);
  assert.equal(state.hasJoinToken, true);
  assert.equal(state.mediaRegion, 'eu-central-1');
  assert.equal(state.signalingUrl, meetingValue.MediaPlacement.SignalingUrl);
  assert.equal(state.audioHostUrl, meetingValue.MediaPlacement.AudioHostUrl);
  assert.equal(typeof state.joinError, 'string');
  // The failure is the SDK's own (a status code name, then its error), after it really tried the
  // meeting's signaling URL with the bot's join token; not the page failing before the SDK could.
  assert.match(state.joinError, /^[A-Z][A-Za-z]+(: |$)/);
  assert.doesNotMatch(state.joinError, /could not start/);
  const sockets = await page.evaluate(() => window.__sockets);
  const signaling = sockets.find((s) => s.url.startsWith(`${meetingValue.MediaPlacement.SignalingUrl}?`));
  assert.ok(signaling, JSON.stringify(sockets.map((s) => s.url)));
  assert.deepEqual(signaling.protocols, ['_aws_wt_session', JOIN_TOKEN]);
  // The SDK retries (for reconnectTimeoutMs) and the page says so; it does not crash.
  assert.equal(state.status, 'retrying');
  assert.equal(state.remoteTiles, 0);

  assert.equal(await page.title(), meetingValue.ExternalMeetingId);
  assert.equal(await page.$eval('#title', (el) => el.textContent), meetingValue.ExternalMeetingId);
  assert.match(await page.$eval('#status', (el) => el.textContent), /Could not join the meeting|Not recording/);
  assert.equal(await page.$eval('body', (el) => el.dataset.state), state.status);
  // The audio element the SDK plays the meeting into.
  assert.equal(await page.$eval('#meeting-audio', (el) => el.autoplay), true);

  // The join token is nowhere on the page nor in what it exposes.
  assert.ok(!JSON.stringify(await page.evaluate(session)).includes(JOIN_TOKEN));
  assert.ok(!(await page.evaluate(() => document.body.outerHTML)).includes(JOIN_TOKEN));
  assert.deepEqual(problems, []);
});

test('non-ASCII in the meeting name (\\u-escaped by the Lambda) comes out as the title', async (t) => {
  const { page, problems } = await openBrowser(t);
  const value = meeting({ ExternalMeetingId: 'dossier-é-✓' });
  await page.goto(`${PAGE}?${joinQuery(encodeJoinValue(value), encodeJoinValue(attendee()))}`);
  await until(() => page.evaluate(() => window.recorderSession?.externalMeetingId), { what: 'the configuration' });
  assert.equal(await page.title(), 'dossier-é-✓');
  assert.equal((await page.evaluate(session)).externalMeetingId, 'dossier-é-✓');
  assert.deepEqual(problems, []);
});

test('missing or broken join data: joinError says which, the page stays up, no join is tried', async (t) => {
  const { page, problems } = await openBrowser(t);
  await page.goto(`${PAGE}?chimeMeetingData=${encodeURIComponent(encodeJoinValue(meeting()))}`);
  const state = await until(() => page.evaluate(() => window.recorderSession?.joinError && window.recorderSession), {
    what: 'the error',
  });
  assert.equal(state.status, 'failed');
  assert.equal(state.joinError, 'chimeAttendeeData is missing');
  assert.equal(state.meetingId, undefined);
  assert.equal(await page.title(), 'Recording');
  assert.match(await page.$eval('#status', (el) => el.textContent), /Not recording the meeting: chimeAttendeeData is missing/);

  await page.goto(`${PAGE}?${joinQuery(encodeJoinValue(meeting()), 'bm90IGpzb24=')}`);
  const broken = await until(() => page.evaluate(() => window.recorderSession?.joinError), { what: 'the error' });
  assert.equal(broken, 'chimeAttendeeData is not JSON');
  assert.deepEqual(problems, []);
});
