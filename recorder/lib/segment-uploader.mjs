// Uploads a recording's closed segments, in order, each by one PutObject streamed from its file, and
// keeps the manifest up to date. A segment stays on local disk until S3 confirms it; a failed attempt
// is retried with backoff (1 s, doubling to 30 s) for as long as the recorder allows
// (`setDeadline`), so an outage of any length short of the task's end costs no segment.
//
// Bounded in memory and time: one upload at a time, its body streamed from disk; every attempt has a
// connection timeout and an idle-socket timeout (the S3 client's, record.mjs), and is aborted at the
// latest at the deadline, so a hung S3 can hold neither the memory nor the exit.

import { createReadStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

import { describe, log } from './log.mjs';
import { buildManifest, manifestKey, segmentKey } from './segments.mjs';

export const BACKOFF_FIRST_MS = 1_000;
export const BACKOFF_MAX_MS = 30_000;
/** The most an attempt at one segment may take beyond its bytes at a slow 256 KiB/s. */
const ATTEMPT_BASE_MS = 60_000;
const SLOWEST_BYTES_PER_MS = 256;
/** The least time a manifest write gets, even at the deadline (it is a few hundred bytes). */
export const FINAL_MANIFEST_MS = 3_000;

export class SegmentUploader {
  /**
   * @param {object} o
   * @param {{send: Function}} o.client    an S3 client
   * @param {Function} o.PutObjectCommand  the SDK's command class
   */
  constructor({ client, PutObjectCommand, bucket, fileName, prefix, segmentDir, segmentSeconds, startedAt, backoffFirstMs = BACKOFF_FIRST_MS }) {
    Object.assign(this, { client, PutObjectCommand, bucket, fileName, prefix, segmentDir, segmentSeconds, startedAt, backoffFirstMs });
    this.pending = []; // closed segments not yet in S3, oldest first
    this.stored = [];
    this.state = 'recording';
    this.stopReason = null;
    this.deadline = Infinity;
    this.manifestStale = false;
    this.wake = () => {};
    this.inFlight = null; // the attempt in flight: its deadline is re-armed when the deadline moves
    this.finished = false;
    this.worker = this.run();
  }

  /** A segment ffmpeg has closed: {number, file, startSeconds, endSeconds}. */
  async add(segment) {
    const bytes = await stat(join(this.segmentDir, segment.file)).then(
      (s) => s.size,
      () => null,
    );
    if (bytes === null) {
      log('error', 'a closed segment is missing from the disk', { segment: segment.number });
      return;
    }
    this.pending.push({ ...segment, bytes, attempts: 0 });
    this.wake();
  }

  /** Bytes waiting on local disk for S3. */
  backlogBytes() {
    return this.pending.reduce((sum, s) => sum + s.bytes, 0);
  }

  /** From now on, nothing is attempted after `deadline` (ms since the epoch) and an attempt in flight then is aborted. */
  setDeadline(deadline) {
    this.deadline = Math.min(this.deadline, deadline);
    this.inFlight?.armDeadline();
    this.wake();
  }

  /**
   * No more segments will come: the worker stores what is pending (until the deadline), writes the
   * final manifest and resolves to {stored, notStored}.
   */
  async finish(stopReason) {
    this.stopReason = stopReason;
    this.finished = true;
    this.wake();
    await this.worker;
    const notStored = this.pending.map(({ number, file, startSeconds, endSeconds, bytes }) => ({
      number,
      file: join(this.segmentDir, file),
      startSeconds,
      endSeconds,
      bytes,
    }));
    this.state = notStored.length === 0 ? 'complete' : 'incomplete';
    // The final manifest gets its own short chance, even when the deadline has passed.
    const manifestOk = await this.putManifest(FINAL_MANIFEST_MS);
    return { stored: this.stored, notStored, manifestOk };
  }

  async run() {
    let backoff = this.backoffFirstMs;
    for (;;) {
      if (Date.now() >= this.deadline) return;
      const segment = this.pending[0];
      if (!segment) {
        if (this.finished) return;
        await this.sleep(Infinity);
        continue;
      }
      segment.attempts += 1;
      const error = await this.putSegment(segment);
      if (!error) {
        this.pending.shift();
        backoff = this.backoffFirstMs;
        continue;
      }
      if (Date.now() >= this.deadline) return;
      log('warn', 'upload retrying', {
        segment: segment.number,
        attempt: segment.attempts,
        retryInSeconds: backoff / 1000,
        waiting: this.pending.length,
        error: describe(error),
      });
      await this.sleep(backoff);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    }
  }

  /** Sleeps `ms` (Infinity: until woken), waking early for a new segment, a deadline or the finish. */
  sleep(ms) {
    return new Promise((resolve) => {
      const until = Math.min(Date.now() + ms, this.deadline);
      const timer = Number.isFinite(until) ? setTimeout(done, Math.max(until - Date.now(), 0)) : null;
      function done() {
        if (timer) clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** One attempt at a segment; null on success (the file is then deleted), else the error. */
  async putSegment(segment) {
    const key = segmentKey(this.prefix, segment.number);
    const path = join(this.segmentDir, segment.file);
    const started = Date.now();
    const error = await this.put(
      { Key: key, Body: createReadStream(path), ContentLength: segment.bytes, ContentType: 'video/mp4' },
      Math.round(ATTEMPT_BASE_MS + segment.bytes / SLOWEST_BYTES_PER_MS),
    );
    if (error) return error;
    this.stored.push({ ...segment, key, storedAt: new Date().toISOString() });
    log('info', 'segment stored', {
      segment: segment.number,
      key,
      bytes: segment.bytes,
      startSeconds: segment.startSeconds,
      endSeconds: segment.endSeconds,
      attempts: segment.attempts,
      uploadMs: Date.now() - started,
    });
    await unlink(path).catch((e) => log('warn', 'could not delete a stored segment from the disk', { segment: segment.number, error: describe(e) }));
    await this.putManifest(10_000);
    return null;
  }

  /** Writes the manifest as it stands; false (logged) when S3 did not take it. */
  async putManifest(timeoutMs) {
    // Never much past the deadline: a few seconds at most.
    timeoutMs = Math.min(timeoutMs, Math.max(this.deadline - Date.now(), FINAL_MANIFEST_MS));
    const manifest = buildManifest({
      fileName: this.fileName,
      startedAt: this.startedAt,
      segmentSeconds: this.segmentSeconds,
      state: this.state,
      stopReason: this.stopReason,
      stored: this.stored,
      notStored: this.pending,
    });
    const error = await this.put(
      { Key: manifestKey(this.prefix), Body: JSON.stringify(manifest, null, 1), ContentType: 'application/json' },
      timeoutMs,
      { ignoreDeadline: true },
    );
    if (error) {
      this.manifestStale = true;
      log('warn', 'could not write the manifest', { state: this.state, error: describe(error) });
      return false;
    }
    this.manifestStale = false;
    return true;
  }

  /**
   * A PutObject aborted after `timeoutMs`, or at the deadline (also one set while it is in flight:
   * a SIGTERM during a hung upload); null on success, else the error.
   */
  async put(params, timeoutMs, { ignoreDeadline = false } = {}) {
    const controller = new AbortController();
    const abort = (why) => controller.abort(new Error(why));
    const timer = setTimeout(() => abort(`no answer from S3 within ${Math.round(timeoutMs / 1000)} s`), timeoutMs);
    const flight = { ignoreDeadline, atDeadline: null };
    flight.armDeadline = () => {
      clearTimeout(flight.atDeadline);
      if (!ignoreDeadline && Number.isFinite(this.deadline)) {
        flight.atDeadline = setTimeout(() => abort('the recorder had to exit: S3 did not answer in time'), Math.max(this.deadline - Date.now(), 0));
      }
    };
    flight.armDeadline();
    this.inFlight = flight;
    // The SDK reports a body it could not read as the request's error; the stream's own 'error'
    // (e.g. the request failed before the file was opened) must not become an uncaught exception.
    params.Body?.on?.('error', () => {});
    try {
      await this.client.send(new this.PutObjectCommand({ Bucket: this.bucket, ...params }), { abortSignal: controller.signal });
      return null;
    } catch (error) {
      return controller.signal.aborted
        ? Object.assign(new Error(String(controller.signal.reason?.message ?? 'aborted')), { name: 'TimeoutError' })
        : error;
    } finally {
      clearTimeout(timer);
      clearTimeout(flight.atDeadline);
      params.Body?.destroy?.();
      this.inFlight = null;
    }
  }
}
