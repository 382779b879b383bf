// The segment uploader (lib/segment-uploader.mjs) against a scripted S3: order, retries, the files
// it deletes and keeps, the manifest it writes, and the deadline that bounds a hung S3.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import { SegmentUploader } from '../../lib/segment-uploader.mjs';
import { tempDir } from '../support/harness.js';

class PutObjectCommand {
  constructor(input) {
    this.input = input;
  }
}

/** An S3 whose answer to each PutObject is `answer(key, n)`: 'ok', an Error, or 'hang'. */
function scriptedS3(answer) {
  const calls = [];
  return {
    calls,
    async send(command, { abortSignal } = {}) {
      const key = command.input.Key;
      const n = calls.filter((c) => c.key === key).length + 1;
      const body = command.input.Body;
      calls.push({ key, n, body: typeof body === 'string' ? body : null });
      const outcome = answer(key, n);
      if (outcome === 'hang') {
        return new Promise((_, reject) => abortSignal.addEventListener('abort', () => reject(new Error('aborted'))));
      }
      if (outcome instanceof Error) throw outcome;
      if (typeof body?.destroy === 'function') body.destroy();
      return {};
    },
  };
}

async function setUp(t, s3, more = {}) {
  const segmentDir = await tempDir(t, 'uploader-');
  const uploader = new SegmentUploader({
    client: s3,
    PutObjectCommand,
    bucket: 'b',
    fileName: 'RECORDINGS/r.mp4',
    prefix: 'RECORDINGS/r/',
    segmentDir,
    segmentSeconds: 2,
    startedAt: '2026-12-05T00:00:00.000Z',
    backoffFirstMs: 50,
    ...more,
  });
  const add = async (number) => {
    const file = `segment-${String(number).padStart(5, '0')}.mp4`;
    await writeFile(join(segmentDir, file), Buffer.alloc(100 * number));
    await uploader.add({ number, file, startSeconds: (number - 1) * 2, endSeconds: number * 2 });
    return join(segmentDir, file);
  };
  return { uploader, add, segmentDir };
}

const manifests = (s3) => s3.calls.filter((c) => c.key.endsWith('manifest.json')).map((c) => JSON.parse(c.body));
const segmentCalls = (s3) => s3.calls.filter((c) => c.key.endsWith('.mp4')).map((c) => `${c.key.split('/').pop()}#${c.n}`);

test('segments are stored in order, a failed one retried before the next, each file deleted once S3 has it', async (t) => {
  const s3 = scriptedS3((key, n) => (key.endsWith('segment-00001.mp4') && n <= 2 ? new Error('SlowDown') : 'ok'));
  const { uploader, add } = await setUp(t, s3);
  const first = await add(1);
  const second = await add(2);
  while (manifests(s3).length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  const { stored, notStored, manifestOk } = await uploader.finish('SIGTERM');
  assert.deepEqual(segmentCalls(s3), ['segment-00001.mp4#1', 'segment-00001.mp4#2', 'segment-00001.mp4#3', 'segment-00002.mp4#1']);
  assert.deepEqual(stored.map((s) => [s.number, s.key, s.bytes, s.attempts]), [
    [1, 'RECORDINGS/r/segment-00001.mp4', 100, 3],
    [2, 'RECORDINGS/r/segment-00002.mp4', 200, 1],
  ]);
  assert.deepEqual(notStored, []);
  assert.equal(manifestOk, true);
  assert.ok(!existsSync(first) && !existsSync(second));
  // A manifest after each segment, then the final one.
  assert.deepEqual(manifests(s3).map((m) => [m.state, m.segments.map((s) => s.number), m.stopReason]), [
    ['recording', [1], null],
    ['recording', [1, 2], null],
    ['complete', [1, 2], 'SIGTERM'],
  ]);
});

test('S3 down until the deadline: what it did not take stays on disk, listed as not stored, and the manifest says incomplete', async (t) => {
  let down = false;
  const s3 = scriptedS3(() => (down ? new Error('socket hang up') : 'ok'));
  const { uploader, add } = await setUp(t, s3);
  await add(1);
  await new Promise((resolve) => setTimeout(resolve, 100));
  down = true;
  const second = await add(2);
  const third = await add(3);
  uploader.setDeadline(Date.now() + 400);
  const started = Date.now();
  const { stored, notStored, manifestOk } = await uploader.finish('SIGTERM');
  assert.ok(Date.now() - started < 400 + 3_000 + 500, `took ${Date.now() - started} ms`);
  assert.deepEqual(stored.map((s) => s.number), [1]);
  assert.deepEqual(notStored.map((s) => [s.number, s.file, s.bytes]), [
    [2, second, 200],
    [3, third, 300],
  ]);
  assert.ok(existsSync(second) && existsSync(third));
  assert.equal(manifestOk, false);
  // Segment 3 was never tried while 2 failed: the order holds.
  assert.ok(!segmentCalls(s3).some((c) => c.startsWith('segment-00003')), segmentCalls(s3).join());
  assert.ok(segmentCalls(s3).filter((c) => c.startsWith('segment-00002')).length >= 2);
});

test('a hung S3: the attempt in flight is aborted at the deadline and finish() returns', async (t) => {
  const s3 = scriptedS3(() => 'hang');
  const { uploader, add } = await setUp(t, s3);
  await add(1);
  uploader.setDeadline(Date.now() + 300);
  const started = Date.now();
  const { stored, notStored } = await uploader.finish('SIGTERM');
  // The deadline, then the final manifest's 3 s.
  const took = Date.now() - started;
  assert.ok(took >= 300 && took < 300 + 3_000 + 500, `took ${took} ms`);
  assert.deepEqual(stored, []);
  assert.deepEqual(notStored.map((s) => s.number), [1]);
});

test('the backlog is the bytes waiting on disk', async (t) => {
  const s3 = scriptedS3(() => 'hang');
  const { uploader, add } = await setUp(t, s3);
  await add(1);
  await add(2);
  assert.equal(uploader.backlogBytes(), 300);
  uploader.setDeadline(Date.now());
  await uploader.finish('SIGTERM');
});
