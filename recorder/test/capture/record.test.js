// record.mjs end to end, without Docker or Chime: Xvfb as the display, moto as S3, silent audio.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';

import { RECORDER, probe, recordingKey, requireTool, runScript, sleep, startMoto, startXvfb, until } from '../support/harness.js';
import {
  HEIGHT,
  WIDTH,
  childPid,
  createBucket,
  download,
  logLines,
  objectKeys,
  openUploads,
  recordingEnv,
  startNoise,
} from './support.js';

const RECORD = join(RECORDER, 'record.mjs');

/** No log line may show a credential. */
function assertNoSecrets(output, env) {
  for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
    assert.ok(!output.includes(env[name]), `the output shows ${name}`);
  }
}

/** The checks every good recording passes: playable, the right streams, a sensible length. */
function assertRecording(file, { minSeconds = 1, maxSeconds = 10 } = {}) {
  const { duration, streams } = probe(file);
  assert.ok(duration >= minSeconds && duration <= maxSeconds, `duration ${duration} s is not within ${minSeconds}–${maxSeconds} s`);
  const video = streams.find((s) => s.codec_type === 'video');
  const audio = streams.find((s) => s.codec_type === 'audio');
  assert.equal(video?.codec_name, 'h264');
  assert.equal(video.profile, 'Main');
  assert.equal(video.pix_fmt, 'yuv420p');
  assert.equal(video.width, WIDTH);
  assert.equal(video.height, HEIGHT);
  assert.equal(audio?.codec_name, 'aac');
  assert.equal(audio.sample_rate, '44100');
  assert.equal(audio.channels, 2);
  return duration;
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

test('RECORDING: captures the display; SIGTERM finishes the MP4 and completes the upload under the key', async (t) => {
  requireTool('ffmpeg');
  requireTool('ffprobe');
  const moto = await startMoto(t);
  const { display } = await startXvfb(t, { width: WIDTH, height: HEIGHT });
  const bucket = await createBucket(moto);
  const key = recordingKey();

  const run = runScript(process.execPath, [RECORD], { env: recordingEnv({ moto, display, bucket, key }) });
  await sleep(3000);
  assert.equal(run.child.exitCode, null, `record.mjs ended early: ${run.output()}`);
  run.child.kill('SIGTERM');
  const { code, ms } = await run.exited;
  assert.equal(code, 0, run.output());
  assert.ok(ms < 15_000, `took ${ms} ms`);

  const { file, bytes, contentType } = await download(t, moto, bucket, key);
  assert.equal(contentType, 'video/mp4');
  const duration = assertRecording(file);
  assert.ok(duration >= 2, `only ${duration} s of a ~3 s recording`);
  assert.deepEqual(await openUploads(moto, bucket), []);
  assert.deepEqual(await objectKeys(moto, bucket), [key]);

  const done = logLines(run.output()).find((line) => line.msg === 'recording uploaded');
  assert.ok(done, run.output());
  assert.equal(done.key, key);
  assert.equal(done.bytes, bytes);
  assert.equal(done.stoppedBy, 'SIGTERM');
  assertNoSecrets(run.output(), moto.env);
});

test('a recording larger than one part goes multipart and is completed on SIGTERM', async (t) => {
  requireTool('ffprobe');
  const moto = await startMoto(t);
  const { display } = await startXvfb(t, { width: WIDTH, height: HEIGHT });
  startNoise(t, display);
  const bucket = await createBucket(moto);
  const key = recordingKey('multipart');

  // 16 Mbit/s of noise: 5 MiB in under 3 s, so the first part is on its way while we record.
  const run = runScript(process.execPath, [RECORD], {
    env: recordingEnv({ moto, display, bucket, key, RECORDING_VIDEO_BITRATE: '16000k' }),
  });
  // The proof that this is the multipart path: S3 lists the upload while we record.
  await until(async () => (await openUploads(moto, bucket)).some((u) => u.Key === key), {
    timeoutMs: 15_000,
    what: 'a multipart upload in progress',
  });
  assert.equal(run.child.exitCode, null, `record.mjs ended early: ${run.output()}`);
  await sleep(1500);
  run.child.kill('SIGTERM');
  const { code } = await run.exited;
  assert.equal(code, 0, run.output());

  const { file, bytes } = await download(t, moto, bucket, key);
  assert.ok(bytes > 5 * 1024 * 1024, `only ${bytes} bytes`);
  assertRecording(file);
  assert.deepEqual(await openUploads(moto, bucket), []);
  assert.equal(logLines(run.output()).find((line) => line.msg === 'recording uploaded')?.bytes, bytes);
  assertNoSecrets(run.output(), moto.env);
});

test('ffmpeg dying mid-recording: the multipart upload is aborted, nothing is stored, exit 1', async (t) => {
  const moto = await startMoto(t);
  const { display } = await startXvfb(t, { width: WIDTH, height: HEIGHT });
  startNoise(t, display);
  const bucket = await createBucket(moto);
  const key = recordingKey('crash');

  const run = runScript(process.execPath, [RECORD], {
    env: recordingEnv({ moto, display, bucket, key, RECORDING_VIDEO_BITRATE: '16000k' }),
  });
  await until(async () => (await openUploads(moto, bucket)).some((u) => u.Key === key), {
    timeoutMs: 15_000,
    what: 'a multipart upload in progress',
  });
  const ffmpeg = childPid(run.child.pid, 'ffmpeg');
  assert.ok(ffmpeg, 'no ffmpeg child found');
  process.kill(ffmpeg, 'SIGKILL');
  const { code } = await run.exited;
  assert.equal(code, 1, run.output());

  assert.deepEqual(await openUploads(moto, bucket), []);
  assert.deepEqual(await objectKeys(moto, bucket), []);
  const messages = logLines(run.output()).map((line) => line.msg);
  assert.ok(messages.includes('ffmpeg failed (killed by SIGKILL)'), run.output());
  assert.ok(messages.includes('recording failed: nothing was stored'), run.output());
  assertNoSecrets(run.output(), moto.env);
});

test('an upload S3 refuses (no such bucket) stops ffmpeg and exits 1 by itself', async (t) => {
  const moto = await startMoto(t);
  const { display } = await startXvfb(t, { width: WIDTH, height: HEIGHT });
  startNoise(t, display);
  const bucket = await createBucket(moto);
  const key = recordingKey('nobucket');

  const run = runScript(process.execPath, [RECORD], {
    env: recordingEnv({ moto, display, bucket: 'no-such-bucket', key, RECORDING_VIDEO_BITRATE: '16000k' }),
  });
  const { code, ms } = await run.exited;
  assert.equal(code, 1, run.output());
  assert.ok(ms < 20_000, `took ${ms} ms`);
  const failure = logLines(run.output()).find((line) => line.msg.startsWith('upload failed'));
  assert.ok(failure, run.output());
  assert.match(failure.msg, /NoSuchBucket/);
  // ffmpeg was stopped for it: its exit is not reported as a second cause.
  assert.ok(!logLines(run.output()).some((line) => line.msg.startsWith('ffmpeg failed')), run.output());
  assert.equal(childPid(run.child.pid, 'ffmpeg'), null);
  assert.deepEqual(await objectKeys(moto, bucket), []);
  assertNoSecrets(run.output(), moto.env);
});

test('a bad environment exits 2 naming the variable, before starting anything', async () => {
  const run = runScript(process.execPath, [RECORD], {
    env: { TASK_TYPE: 'RECORDING', RECORDING_FILE_NAME: 'RECORDINGS/x.mp4', AWS_REGION: 'eu-west-2' },
  });
  const { code } = await run.exited;
  assert.equal(code, 2);
  assert.match(run.output(), /RECORDING_BUCKET_NAME is not set/);
});
