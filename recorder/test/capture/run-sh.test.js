// run.sh, the container's entrypoint, on this machine: its own Xvfb, Debian's chromium on the real
// meeting page (built bundle), record.mjs exec'd in its place, moto as S3. What differs from the
// container: no PulseAudio (silent audio), a free display number instead of :1, and a dead proxy for
// the browser so that the Chime join fails at once, network or not.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';

import { encodeJoinValue } from '../../lib/join-data.mjs';
import { JOIN_TOKEN, attendee, meeting } from '../support/fixtures.js';
import {
  RECORDER,
  chromiumPath,
  freePort,
  probe,
  recordingKey,
  requireTool,
  runScript,
  sleep,
  startMoto,
  tempDir,
  unusedDisplayNumber,
  until,
} from '../support/harness.js';
import { recordingPrefix, segmentKey } from '../../lib/segments.mjs';
import { assertJsonLines, createBucket, download, logLines, manifest, objectKeys, oneTo, openUploads, storedSegmentNumbers } from './support.js';

const RUN_SH = join(RECORDER, 'run.sh');

before(() => {
  // The page's bundle, built from the current sources (npm run build).
  const build = spawnSync(process.execPath, [join(RECORDER, 'scripts', 'build-page.mjs')], { encoding: 'utf8' });
  assert.equal(build.status, 0, `npm run build failed:\n${build.stdout}${build.stderr}`);
});

/** Ends what run.sh started (its process group: node, Xvfb, chromium), SIGTERM first so Xvfb cleans up. */
async function killGroup(pid) {
  const alive = () => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(-pid, 'SIGTERM');
  const deadline = Date.now() + 3000;
  while (alive() && Date.now() < deadline) await sleep(100);
  if (alive()) process.kill(-pid, 'SIGKILL');
}

test('run.sh PRE_WARM: exits 0 at once, starting nothing', async () => {
  const run = runScript('bash', [RUN_SH], { env: { TASK_TYPE: 'PRE_WARM' } });
  const { code, ms } = await run.exited;
  assert.equal(code, 0, run.output());
  assert.ok(ms < 1000, `took ${ms} ms`);
  assert.match(run.output(), /PRE_WARM/);
  assert.equal(run.output().trim().split('\n').length, 1, run.output());
});

test('run.sh refuses unusable join data before starting anything (exit 2)', async () => {
  const run = runScript('bash', [RUN_SH], {
    env: { TASK_TYPE: 'RECORDING', CHIME_MEETING_DATA: encodeJoinValue(meeting()), CHIME_ATTENDEE_DATA: 'bm90IGpzb24=' },
  });
  const { code } = await run.exited;
  assert.equal(code, 2, run.output());
  assert.match(run.output(), /CHIME_ATTENDEE_DATA is not JSON/);
});

/** run.sh on the real page with a browser that cannot reach Chime; returns what the tests need. */
async function startRunSh(t, more = {}) {
  requireTool('Xvfb');
  requireTool('ffmpeg');
  const browser = chromiumPath();
  const moto = await startMoto(t);
  const bucket = await createBucket(moto);
  const key = recordingKey('runsh');
  const dir = await tempDir(t);
  const browserLog = join(dir, 'browser.log');
  const width = 640;
  const height = 360;

  const run = runScript('bash', [RUN_SH], {
    detached: true, // its own process group, so that everything it started can be ended after
    env: {
      ...moto.env,
      TASK_TYPE: 'RECORDING',
      CHIME_MEETING_DATA: encodeJoinValue(meeting({ ExternalMeetingId: 'case-1' })),
      CHIME_ATTENDEE_DATA: encodeJoinValue(attendee()),
      RECORDING_BUCKET_NAME: bucket,
      RECORDING_FILE_NAME: key,
      RECORDING_SCREEN_WIDTH: String(width),
      RECORDING_SCREEN_HEIGHT: String(height),
      RECORDING_AUDIO_INPUT: 'silent',
      RECORDING_SEGMENT_SECONDS: '2',
      RECORDER_DISPLAY: `:${unusedDisplayNumber()}`,
      RECORDER_DEBUG_PORT: String(await freePort()),
      RECORDER_BROWSER: browser,
      RECORDER_BROWSER_FLAGS: `--proxy-server=http://127.0.0.1:${await freePort()}`,
      RECORDER_BROWSER_LOG: browserLog,
      TMPDIR: dir, // the browser profile run.sh makes
      ...more,
    },
  });
  t.after(() => killGroup(run.child.pid));
  const browserOutput = () => (existsSync(browserLog) ? readFileSync(browserLog, 'utf8').slice(-2000) : '(no browser log)');

  await until(() => logLines(run.output()).some((line) => line.msg === 'recording') || run.child.exitCode !== null, {
    timeoutMs: 20_000,
    what: 'record.mjs to start recording',
  });
  assert.equal(run.child.exitCode, null, `run.sh ended early:\n${run.output()}\n${browserOutput()}`);
  return { moto, bucket, key, run, width, height, browserOutput };
}

test('run.sh: Xvfb + chromium on the meeting page, exec record.mjs; SIGTERM stores every segment', async (t) => {
  const { moto, bucket, key, run, width, height, browserOutput } = await startRunSh(t);
  await sleep(3500); // the page renders; a few seconds of it are recorded
  // The pid run.sh had is node's now (exec): the SIGTERM ECS would send to PID 1.
  process.kill(run.child.pid, 'SIGTERM');
  const { code } = await run.exited;
  assert.equal(code, 0, `${run.output()}\n${browserOutput()}`);

  const numbers = await storedSegmentNumbers(moto, bucket, key);
  assert.ok(numbers.length >= 2, `segments ${numbers}`);
  assert.deepEqual(numbers, oneTo(numbers.length));
  assert.equal((await manifest(moto, bucket, key)).state, 'complete');
  const last = segmentKey(recordingPrefix(key), numbers.at(-1));
  const { file } = await download(t, moto, bucket, last);
  const { duration, streams } = probe(file);
  assert.ok(duration > 0 && duration <= 4, `duration ${duration} s`);
  assert.deepEqual(
    streams.map((s) => [s.codec_type, s.codec_name, s.width ?? null, s.height ?? null]),
    [
      ['video', 'h264', width, height],
      ['audio', 'aac', null, null],
    ],
  );
  assert.deepEqual(await openUploads(moto, bucket), []);
  assert.equal((await objectKeys(moto, bucket)).length, numbers.length + 1);

  // The page was on the display: the last second holds its banner's light text on the black page.
  const ffmpeg = requireTool('ffmpeg');
  const frame = spawnSync(ffmpeg, ['-v', 'error', '-sseof', '-0.5', '-i', file, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], {
    maxBuffer: width * height * 2,
  });
  assert.equal(frame.status, 0, String(frame.stderr));
  const bright = frame.stdout.filter((luma) => luma > 150).length;
  assert.ok(bright > 50, `only ${bright} bright pixels: the page did not show\n${browserOutput()}`);

  // Neither run.sh nor record.mjs logged the join data or a credential; every line is JSON.
  const output = run.output();
  for (const secret of [JOIN_TOKEN, encodeJoinValue(attendee()).slice(0, 40), moto.env.AWS_SECRET_ACCESS_KEY, moto.env.AWS_SESSION_TOKEN]) {
    assert.ok(!output.includes(secret), 'a secret is in the log');
  }
  assert.ok(logLines(output).some((line) => line.msg === 'run.sh: display, audio and browser ready: handing over to record.mjs'));
  assertJsonLines(output);
});

test('run.sh: a meeting the bot cannot join (the real page, no route to Chime) ends the recording by itself, saying why', async (t) => {
  const { moto, bucket, key, run, browserOutput } = await startRunSh(t, { RECORDER_JOIN_TIMEOUT_SECONDS: '6' });
  const { code, ms } = await run.exited;
  assert.equal(code, 0, `${run.output()}\n${browserOutput()}`);
  assert.ok(ms < 30_000, `took ${ms} ms`);
  const lines = logLines(run.output());
  const stopping = lines.find((l) => l.msg === 'stopping');
  assert.equal(stopping?.reason, 'join-failed', run.output());
  // The page's own report of the failure reaches the log (never the join token).
  assert.ok(typeof stopping.joinError === 'string' && stopping.joinError.length > 0, JSON.stringify(stopping));
  assert.ok(!run.output().includes(JOIN_TOKEN));
  const stored = await manifest(moto, bucket, key);
  assert.equal(stored.state, 'complete');
  assert.equal(stored.stopReason, 'join-failed');
  assertJsonLines(run.output());
});
