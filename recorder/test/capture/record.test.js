// record.mjs end to end, without Docker or Chime: Xvfb as the display, moto as S3 (behind a proxy that
// can fail as S3 fails), silent audio, 2-second segments.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';

import { recordingPrefix, segmentKey } from '../../lib/segments.mjs';
import { RECORDER, chromiumPath, freePort, recordingKey, requireTool, runScript, sleep, startMoto, startXvfb, stopChild, tempDir, until } from '../support/harness.js';
import { startS3Proxy } from '../support/s3-proxy.js';
import {
  HEIGHT,
  WIDTH,
  assertBrowserPlays,
  assertJsonLines,
  assertPlayable,
  assertSegmentsPlay,
  childPid,
  createBucket,
  logLines,
  manifest,
  objectKeys,
  oneTo,
  openUploads,
  recordingEnv,
  rssBytes,
  startNoise,
  storedSegmentNumbers,
} from './support.js';

const RECORD = join(RECORDER, 'record.mjs');

/** No log line may show a credential. */
function assertNoSecrets(output, env) {
  for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
    assert.ok(!output.includes(env[name]), `the output shows ${name}`);
  }
}

function line(run, msg) {
  return logLines(run.output()).find((l) => l.msg === msg);
}

/** Waits for the recorder to have stored `count` segments (by its log). */
async function segmentsStored(run, count, timeoutMs = 20_000) {
  await until(() => logLines(run.output()).filter((l) => l.msg === 'segment stored').length >= count || run.child.exitCode !== null, {
    timeoutMs,
    what: `${count} stored segments`,
  });
  assert.equal(run.child.exitCode, null, `record.mjs ended early: ${run.output()}`);
}

/** A recording on Xvfb into moto (through `proxy` when given). */
async function setUp(t, name, { proxy = false } = {}) {
  requireTool('ffmpeg');
  requireTool('ffprobe');
  const moto = await startMoto(t);
  const { display } = await startXvfb(t, { width: WIDTH, height: HEIGHT });
  const bucket = await createBucket(moto);
  const s3 = proxy ? await startS3Proxy(t, moto.endpoint) : null;
  return { moto, display, bucket, key: recordingKey(name), s3, segmentDir: await tempDir(t, 'segments-') };
}

test('PRE_WARM: exits 0 within a second, with one log line, touching no S3', async (t) => {
  // Any connection to this "S3" would be counted.
  let connections = 0;
  const trap = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise((resolve) => trap.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => trap.close(resolve)));

  const run = runScript(process.execPath, [RECORD], {
    env: {
      TASK_TYPE: 'PRE_WARM',
      AWS_REGION: 'eu-west-2',
      AWS_ENDPOINT_URL: `http://127.0.0.1:${trap.address().port}`,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
    },
  });
  const { code, ms } = await run.exited;
  assert.equal(code, 0, run.output());
  assert.ok(ms < 1000, `took ${ms} ms`);
  const lines = run.output().trim().split('\n');
  assert.equal(lines.length, 1, run.output());
  assert.match(lines[0], /PRE_WARM/);
  assert.equal(connections, 0);
});

test('RECORDING: segments go to S3 as they close; SIGTERM closes the last one, the manifest says complete, exit 0', async (t) => {
  const { moto, display, bucket, key, segmentDir } = await setUp(t, 'normal');
  const run = runScript(process.execPath, [RECORD], { env: recordingEnv({ moto, display, bucket, key, RECORDER_SEGMENT_DIR: segmentDir }) });
  // The first segments are in S3 while the recording goes on.
  await segmentsStored(run, 2);
  assert.deepEqual(await storedSegmentNumbers(moto, bucket, key), [1, 2]);
  assert.equal((await manifest(moto, bucket, key)).state, 'recording');
  await sleep(1000);
  run.child.kill('SIGTERM');
  const { code, ms } = await run.exited;
  assert.equal(code, 0, run.output());

  const numbers = await storedSegmentNumbers(moto, bucket, key);
  assert.ok(numbers.length >= 3, `only ${numbers}`);
  assert.deepEqual(numbers, oneTo(numbers.length), 'no segment is missing');
  const stored = await manifest(moto, bucket, key);
  assert.equal(stored.state, 'complete');
  assert.equal(stored.stopReason, 'SIGTERM');
  assert.deepEqual(stored.notStored, []);
  assert.deepEqual(
    stored.segments.map((s) => [s.number, s.key]),
    numbers.map((n) => [n, segmentKey(recordingPrefix(key), n)]),
  );
  // Each segment starts where the previous one ended, from 0.
  stored.segments.forEach((s, i) => assert.equal(s.startSeconds, i === 0 ? 0 : stored.segments[i - 1].endSeconds));
  // Every piece plays on its own, and together they are the whole recording.
  const files = [];
  const total = await assertSegmentsPlay(t, moto, bucket, key, numbers, { files });
  // And in the browser, as the agent-app's player plays each playlist item (first and last).
  const inBrowser = await assertBrowserPlays(t, [files[0], files.at(-1)]);
  assert.ok(Math.abs(inBrowser[0] - stored.segments[0].endSeconds) < 0.5, `the browser sees ${inBrowser[0]} s of segment 1`);
  const recorded = ms / 1000;
  assert.ok(total >= recorded - 2.5 && total <= recorded + 1, `${total} s of segments for ${recorded} s of recording`);
  // Only the segments and the manifest are in the bucket; nothing is left on the disk.
  assert.equal((await objectKeys(moto, bucket)).length, numbers.length + 1);
  assert.deepEqual(await openUploads(moto, bucket), []);
  assert.ok(!existsSync(join(segmentDir, 'segment-00001.mp4')), 'a stored segment is still on the disk');

  const summary = line(run, 'exit summary');
  assert.deepEqual(summary.stored, numbers);
  assert.deepEqual(summary.notStored, []);
  assert.equal(summary.exitCode, 0);
  assert.equal(line(run, 'stopping').reason, 'SIGTERM');
  assertJsonLines(run.output());
  assertNoSecrets(run.output(), moto.env);
});

test('a 10-second S3 outage loses no segment: uploads retry, and every segment is stored in order', async (t) => {
  const { moto, display, bucket, key, s3 } = await setUp(t, 'outage', { proxy: true });
  const run = runScript(process.execPath, [RECORD], {
    env: recordingEnv({ moto, display, bucket, key, endpoint: s3.endpoint, RECORDER_S3_TIMEOUT_SECONDS: '2' }),
  });
  await segmentsStored(run, 1);
  await s3.setMode('reset');
  await sleep(5_000);
  await s3.setMode('closed');
  await sleep(5_000);
  await s3.setMode('pass');
  // The segments recorded during the outage reach S3 once it is back, while the recording goes on.
  await until(async () => (await storedSegmentNumbers(moto, bucket, key)).length >= 7, { timeoutMs: 40_000, what: 'the backlog to be stored' });
  run.child.kill('SIGTERM');
  const { code } = await run.exited;
  assert.equal(code, 0, run.output());

  const numbers = await storedSegmentNumbers(moto, bucket, key);
  assert.deepEqual(numbers, oneTo(numbers.length), 'no segment is missing');
  const stored = await manifest(moto, bucket, key);
  assert.equal(stored.state, 'complete');
  assert.deepEqual(stored.segments.map((s) => s.number), numbers);
  await assertSegmentsPlay(t, moto, bucket, key, numbers);
  const retries = logLines(run.output()).filter((l) => l.msg === 'upload retrying');
  assert.ok(retries.length >= 2, `the outage was not noticed: ${run.output()}`);
  assert.ok(retries.every((r) => typeof r.error === 'string' && r.segment >= 2), JSON.stringify(retries));
  assertJsonLines(run.output());
  assertNoSecrets(run.output(), moto.env);
});

test('S3 gone for good: SIGTERM exits by the deadline with code 3, naming the segments left on disk; those before the outage are stored', async (t) => {
  const { moto, display, bucket, key, s3, segmentDir } = await setUp(t, 'gone', { proxy: true });
  const run = runScript(process.execPath, [RECORD], {
    env: recordingEnv({
      moto,
      display,
      bucket,
      key,
      endpoint: s3.endpoint,
      RECORDER_SEGMENT_DIR: segmentDir,
      RECORDER_S3_TIMEOUT_SECONDS: '2',
      RECORDER_STOP_DEADLINE_SECONDS: '6',
    }),
  });
  await segmentsStored(run, 2);
  // The manifest is rewritten just after each stored segment: let it name two before S3 goes away.
  for (let i = 0; i < 100 && ((await manifest(moto, bucket, key).catch(() => null))?.segments?.length ?? 0) < 2; i++) {
    await sleep(100);
  }
  await s3.setMode('closed');
  const before = await storedSegmentNumbers(moto, bucket, key);
  await sleep(5_000);
  run.child.kill('SIGTERM');
  const stoppedAt = Date.now();
  const { code } = await run.exited;
  const took = Date.now() - stoppedAt;
  assert.equal(code, 3, run.output());
  assert.ok(took < 6_000 + 6_000, `exited ${took} ms after SIGTERM, past the 6 s deadline and its margin`);

  // What was stored before the outage is there and plays; nothing more reached S3.
  assert.ok(before.length >= 2);
  assert.deepEqual(await storedSegmentNumbers(moto, bucket, key), before);
  await assertSegmentsPlay(t, moto, bucket, key, before);
  // The rest is on the disk, named in the exit summary, whole and playable.
  const summary = line(run, 'exit summary');
  assert.equal(summary.exitCode, 3);
  assert.deepEqual(summary.stored, before);
  assert.ok(summary.notStored.length >= 2, JSON.stringify(summary));
  assert.deepEqual(summary.notStored.map((s) => s.number), oneTo(before.length + summary.notStored.length).slice(before.length));
  for (const { file } of summary.notStored) {
    assert.ok(file.startsWith(segmentDir) && existsSync(file), `${file} is not on the disk`);
    assertPlayable(file);
  }
  assert.equal(summary.manifestWritten, false);
  // The manifest in S3 is the last one S3 took: the stored segments in order, still `recording`. The
  // outage may cut off the rewrite that follows the last stored segment, so it may lack that one.
  const stored = await manifest(moto, bucket, key);
  assert.equal(stored.state, 'recording');
  const listed = stored.segments.map((s) => s.number);
  assert.ok(listed.length >= 2 && listed.length >= before.length - 1, JSON.stringify({ listed, before }));
  assert.deepEqual(listed, before.slice(0, listed.length));
  assertJsonLines(run.output());
});

test('a hung S3 holds neither memory nor the exit: the capture goes on to disk at a bounded size, SIGTERM exits by the deadline', async (t) => {
  const { moto, display, bucket, key, s3, segmentDir } = await setUp(t, 'hung', { proxy: true });
  startNoise(t, display);
  await s3.setMode('hang');
  const run = runScript(process.execPath, [RECORD], {
    env: recordingEnv({
      moto,
      display,
      bucket,
      key,
      endpoint: s3.endpoint,
      RECORDER_SEGMENT_DIR: segmentDir,
      RECORDING_VIDEO_BITRATE: '8000k',
      RECORDER_S3_TIMEOUT_SECONDS: '3',
      RECORDER_STOP_DEADLINE_SECONDS: '8',
    }),
  });
  // Memory of the recorder and its ffmpeg, sampled while S3 hangs for 12 s.
  const samples = [];
  const started = Date.now();
  while (Date.now() - started < 12_000) {
    await sleep(500);
    const ffmpeg = childPid(run.child.pid, 'ffmpeg');
    samples.push({ node: rssBytes(run.child.pid), ffmpeg: ffmpeg ? rssBytes(ffmpeg) : 0, at: Date.now() - started });
  }
  assert.equal(run.child.exitCode, null, run.output());
  // The bound at this size: node under 200 MiB, ffmpeg under 150 MiB (its encoder plus a capture
  // queue of 32 frames, 9.4 MiB here); and neither grows while S3 hangs (the segments pile up on
  // disk, not in memory).
  const mib = (bytes) => Math.round(bytes / 1024 / 1024);
  const peak = (name) => Math.max(...samples.map((s) => s[name]));
  const settled = (name) => samples.find((s) => s.at >= 4_000)[name];
  t.diagnostic(`while S3 hung: node ${mib(settled('node'))}→${mib(peak('node'))} MiB, ffmpeg ${mib(settled('ffmpeg'))}→${mib(peak('ffmpeg'))} MiB (at 4 s → peak)`);
  assert.ok(peak('node') < 200 * 1024 * 1024, `node peaked at ${mib(peak('node'))} MiB`);
  assert.ok(peak('ffmpeg') < 150 * 1024 * 1024, `ffmpeg peaked at ${mib(peak('ffmpeg'))} MiB`);
  assert.ok(peak('node') - settled('node') < 40 * 1024 * 1024, `node grew from ${mib(settled('node'))} to ${mib(peak('node'))} MiB`);
  assert.ok(peak('ffmpeg') - settled('ffmpeg') < 40 * 1024 * 1024, `ffmpeg grew from ${mib(settled('ffmpeg'))} to ${mib(peak('ffmpeg'))} MiB`);
  assert.ok(logLines(run.output()).some((l) => l.msg === 'upload retrying' && /TimeoutError|timeout|no answer/i.test(l.error)), run.output());

  run.child.kill('SIGTERM');
  const stoppedAt = Date.now();
  const { code } = await run.exited;
  const took = Date.now() - stoppedAt;
  assert.equal(code, 3, run.output());
  assert.ok(took < 8_000 + 6_000, `exited ${took} ms after SIGTERM with an 8 s deadline`);
  t.diagnostic(`exited ${took} ms after SIGTERM (deadline 8 s)`);
  const summary = line(run, 'exit summary');
  assert.deepEqual(summary.stored, []);
  assert.ok(summary.notStored.length >= 5, JSON.stringify(summary));
  for (const { file } of summary.notStored) assert.ok(existsSync(file), `${file} is not on the disk`);
  assertJsonLines(run.output());
});

test('more unstored segments on disk than RECORDER_MAX_BACKLOG_MB stops the capture, saying why, rather than fill the disk', async (t) => {
  const { moto, display, bucket, key, s3 } = await setUp(t, 'backlog', { proxy: true });
  startNoise(t, display);
  await s3.setMode('closed');
  const run = runScript(process.execPath, [RECORD], {
    env: recordingEnv({
      moto,
      display,
      bucket,
      key,
      endpoint: s3.endpoint,
      RECORDING_VIDEO_BITRATE: '8000k',
      RECORDER_MAX_BACKLOG_MB: '3',
      RECORDER_DRAIN_SECONDS: '5',
    }),
  });
  const { code, ms } = await run.exited;
  assert.equal(code, 3, run.output());
  assert.ok(ms < 30_000, `took ${ms} ms`);
  const stopping = line(run, 'stopping');
  assert.equal(stopping.reason, 'storage-backlog');
  assert.ok(stopping.backlogBytes > 3 * 1024 * 1024, JSON.stringify(stopping));
  const summary = line(run, 'exit summary');
  assert.equal(summary.reason, 'storage-backlog');
  assert.ok(summary.notStored.length >= 1);
  assert.deepEqual(await objectKeys(moto, bucket), []);
  assertJsonLines(run.output());
});

test('ffmpeg dying mid-recording: the closed segments and the one it could not close are stored, exit 1', async (t) => {
  const { moto, display, bucket, key } = await setUp(t, 'crash');
  const run = runScript(process.execPath, [RECORD], { env: recordingEnv({ moto, display, bucket, key, RECORDING_SEGMENT_SECONDS: '4' }) });
  await segmentsStored(run, 1);
  await sleep(2500); // two seconds or more into the second segment: it has fragments on disk
  const ffmpeg = childPid(run.child.pid, 'ffmpeg');
  assert.ok(ffmpeg, 'no ffmpeg child found');
  process.kill(ffmpeg, 'SIGKILL');
  const { code } = await run.exited;
  assert.equal(code, 1, run.output());

  const numbers = await storedSegmentNumbers(moto, bucket, key);
  assert.ok(numbers.length >= 2, `stored ${numbers}`);
  assert.deepEqual(numbers, oneTo(numbers.length));
  // The unclosed last segment is fragmented MP4: playable up to its last fragment (a second or more),
  // in the browser too.
  await assertSegmentsPlay(t, moto, bucket, key, numbers.slice(0, -1));
  const files = [];
  const last = await assertSegmentsPlay(t, moto, bucket, key, numbers.slice(-1), { files });
  assert.ok(last >= 1, `the unclosed segment holds ${last} s`);
  await assertBrowserPlays(t, files);
  const stored = await manifest(moto, bucket, key);
  assert.equal(stored.state, 'complete');
  assert.equal(stored.stopReason, 'capture-failed');
  const messages = logLines(run.output()).map((l) => l.msg);
  assert.ok(messages.includes('ffmpeg failed (killed by SIGKILL)'), run.output());
  assert.ok(messages.includes('uploading a segment ffmpeg did not close'), run.output());
  assert.equal(line(run, 'exit summary').exitCode, 1);
  assertJsonLines(run.output());
  assertNoSecrets(run.output(), moto.env);
});

test('RecordingMaxMinutes ends the recording by itself, with its reason logged', async (t) => {
  const { moto, display, bucket, key } = await setUp(t, 'max');
  // 0.06 minutes: 3.6 s.
  const run = runScript(process.execPath, [RECORD], { env: recordingEnv({ moto, display, bucket, key, RECORDING_MAX_MINUTES: '0.06' }) });
  const { code, ms } = await run.exited;
  assert.equal(code, 0, run.output());
  assert.ok(ms > 3_000 && ms < 15_000, `took ${ms} ms`);
  assert.equal(line(run, 'stopping').reason, 'max-duration');
  const stored = await manifest(moto, bucket, key);
  assert.equal(stored.state, 'complete');
  assert.equal(stored.stopReason, 'max-duration');
  const total = await assertSegmentsPlay(t, moto, bucket, key, await storedSegmentNumbers(moto, bucket, key));
  assert.ok(total > 2.5 && total < 6, `${total} s recorded`);
});

/** A headless browser on the fake meeting page playing `steps`; returns its DevTools URL. */
async function fakeMeetingPage(t, steps) {
  const port = await freePort();
  const profile = await tempDir(t, 'profile-');
  const page = pathToFileURL(join(RECORDER, 'test', 'fixtures', 'fake-meeting-page.html'));
  page.searchParams.set('steps', steps);
  const browser = spawn(
    chromiumPath(),
    ['--headless=new', '--no-sandbox', `--user-data-dir=${profile}`, '--remote-debugging-address=127.0.0.1', `--remote-debugging-port=${port}`, page.href],
    { stdio: 'ignore' },
  );
  t.after(() => stopChild(browser, { graceMs: 2_000 }));
  const url = `http://127.0.0.1:${port}`;
  await until(() => fetch(`${url}/json/version`).then((r) => r.ok, () => false), { timeoutMs: 15_000, what: 'the browser' });
  return url;
}

for (const [reason, steps] of [
  ['attendee-removed', 'joining@0,joined@500,stopped:attendee-removed@3500'],
  ['meeting-ended', 'joining@0,joined@500,stopped:meeting-ended@3500'],
]) {
  test(`the page says ${reason}: the recording ends itself after the grace period, everything stored`, async (t) => {
    const { moto, display, bucket, key } = await setUp(t, reason);
    const debugUrl = await fakeMeetingPage(t, steps);
    const run = runScript(process.execPath, [RECORD], {
      env: recordingEnv({ moto, display, bucket, key, RECORDER_PAGE_DEBUG_URL: debugUrl, RECORDER_END_GRACE_SECONDS: '2' }),
    });
    const { code, ms } = await run.exited;
    assert.equal(code, 0, run.output());
    assert.ok(ms > 5_000 && ms < 20_000, `took ${ms} ms`);
    const messages = logLines(run.output()).map((l) => l.msg);
    assert.ok(messages.indexOf('joined the meeting') < messages.indexOf('out of the meeting'), run.output());
    assert.equal(line(run, 'stopping').reason, reason);
    const stored = await manifest(moto, bucket, key);
    assert.equal(stored.state, 'complete');
    assert.equal(stored.stopReason, reason);
    const numbers = await storedSegmentNumbers(moto, bucket, key);
    assert.deepEqual(numbers, oneTo(numbers.length));
    assertJsonLines(run.output());
  });
}

test('a page back in the meeting within the grace period does not end the recording', async (t) => {
  const { moto, display, bucket, key } = await setUp(t, 'blip');
  const debugUrl = await fakeMeetingPage(t, 'joined@0,retrying@4000,joined@6000');
  const run = runScript(process.execPath, [RECORD], {
    env: recordingEnv({ moto, display, bucket, key, RECORDER_PAGE_DEBUG_URL: debugUrl, RECORDER_END_GRACE_SECONDS: '4' }),
  });
  await until(() => line(run, 'back in the meeting'), { timeoutMs: 15_000, what: 'the page to come back' });
  await sleep(5_000);
  assert.equal(run.child.exitCode, null, run.output());
  run.child.kill('SIGTERM');
  const { code } = await run.exited;
  assert.equal(code, 0, run.output());
  assert.equal(line(run, 'stopping').reason, 'SIGTERM');
});

test('a meeting the bot cannot join ends the recording after the join timeout, with the join error logged', async (t) => {
  const { moto, display, bucket, key } = await setUp(t, 'nojoin');
  const debugUrl = await fakeMeetingPage(t, 'joining@0,retrying@500');
  const run = runScript(process.execPath, [RECORD], {
    env: recordingEnv({ moto, display, bucket, key, RECORDER_PAGE_DEBUG_URL: debugUrl, RECORDER_JOIN_TIMEOUT_SECONDS: '4' }),
  });
  const { code, ms } = await run.exited;
  assert.equal(code, 0, run.output());
  assert.ok(ms > 4_000 && ms < 15_000, `took ${ms} ms`);
  assert.match(line(run, 'could not join the meeting yet: the page keeps retrying').joinError, /SignalingBadRequest/);
  const stopping = line(run, 'stopping');
  assert.equal(stopping.reason, 'join-failed');
  assert.match(stopping.joinError, /SignalingBadRequest/);
  assert.equal((await manifest(moto, bucket, key)).stopReason, 'join-failed');
});

test('a bad environment exits 2 naming the variable, before starting anything', async () => {
  const run = runScript(process.execPath, [RECORD], {
    env: { TASK_TYPE: 'RECORDING', RECORDING_FILE_NAME: 'RECORDINGS/x.mp4', AWS_REGION: 'eu-west-2' },
  });
  const { code } = await run.exited;
  assert.equal(code, 2);
  assert.match(run.output(), /RECORDING_BUCKET_NAME is not set/);
  assertJsonLines(run.output());
});
