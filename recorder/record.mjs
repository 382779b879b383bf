#!/usr/bin/env node
// The capture: ffmpeg records the X display (and the meeting's audio) into MP4 segments on local disk
// (lib/ffmpeg-args.mjs), and each segment ffmpeg closes is uploaded to
// s3://$RECORDING_BUCKET_NAME/<prefix>segment-NNNNN.mp4 with a manifest beside it
// (lib/segments.mjs, lib/segment-uploader.mjs), while the meeting goes on.
//
// What ends a recording (each logged as `stopping` with its `reason`):
// - SIGTERM (ECS StopTask; docker stop) or SIGINT;
// - the meeting page (lib/page-watch.mjs): a join that failed, the meeting's end, the bot's removal;
// - RECORDING_MAX_MINUTES; more unstored segments on disk than RECORDER_MAX_BACKLOG_MB;
// - ffmpeg ending by itself (a crash: its unfinished segment is still uploaded, being fragmented).
// Then ffmpeg is asked to finish (`q`; SIGINT, SIGTERM, then SIGKILL if it does not), which closes the
// last segment, and what is on disk goes to S3 until the deadline: RECORDER_STOP_DEADLINE_SECONDS
// (110) after a signal, so that the process has exited before ECS's stopTimeout (120 s) ends in a
// SIGKILL; RECORDER_DRAIN_SECONDS after a stop of its own. TASK_TYPE=PRE_WARM: exit 0 at once.
//
// Exit codes (the last log line, `exit summary`, lists the stored and unstored segments):
//   0  every segment recorded is in S3, and the manifest says `complete`
//   1  the capture failed (ffmpeg could not start, or crashed): what it recorded was stored
//   2  a bad environment
//   3  some segments are not in S3 (it stayed unreachable until the deadline); their files are named
//
// Logs are JSON lines (lib/log.mjs). They never contain credentials, the environment or the join
// token (the capture never reads CHIME_* at all), and ffmpeg is started without the AWS variables.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { EnvError, parseEnv } from './lib/env.mjs';
import { SEGMENT_LIST, captureQueueBytes, ffmpegArgs } from './lib/ffmpeg-args.mjs';
import { captureProcessWarnings, describe, log } from './lib/log.mjs';
import { PageWatch } from './lib/page-watch.mjs';
import { FINAL_MANIFEST_MS, SegmentUploader } from './lib/segment-uploader.mjs';
import { parseSegmentList, recordingPrefix, segmentNumber } from './lib/segments.mjs';

// After `q`, how long ffmpeg gets before SIGINT, then SIGTERM, then SIGKILL (a killed ffmpeg leaves
// its last segment unclosed, which is still playable up to its last fragment).
const STOP_ESCALATION = [
  ['SIGINT', 10_000],
  ['SIGTERM', 10_000],
  ['SIGKILL', 10_000],
];
const PROGRESS_EVERY_MS = 60_000;
const SEGMENT_LIST_POLL_MS = 1_000;
const STDERR_TAIL_LINES = 20;
const SIGNALS = new Set(['SIGTERM', 'SIGINT']);

/** The environment for ffmpeg: ours without the AWS credentials and settings it has no use for. */
function ffmpegEnv(env) {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('AWS_')));
}

async function main() {
  captureProcessWarnings();
  let config;
  try {
    config = parseEnv(process.env);
  } catch (error) {
    if (!(error instanceof EnvError)) throw error;
    log('error', `bad environment: ${error.message}`);
    return 2;
  }
  if (config.taskType === 'PRE_WARM') {
    // Before importing the AWS SDK: a prewarm task does nothing, and does it fast.
    log('info', 'PRE_WARM task: the image is pulled and cached, nothing to record');
    return 0;
  }
  return record(config);
}

async function record(config) {
  const { bucket, key } = config;
  const prefix = recordingPrefix(key);

  // The stop handlers go in before anything else: a StopTask that arrives while we start must not
  // kill the process with Node's default handler (nor be lost).
  let stopReason = null;
  let deadline = Infinity;
  let onStop = () => {};
  let hardExit = null;
  const requestStop = (reason, detail = {}) => {
    const byDeadline = Date.now() + (SIGNALS.has(reason) ? config.stopDeadlineSeconds : config.drainSeconds) * 1000;
    if (stopReason) {
      // A signal after a stop of our own shortens the time left to ECS's deadline.
      if (SIGNALS.has(reason)) log('info', `${reason} received while stopping: finishing by the deadline`, { deadlineSeconds: config.stopDeadlineSeconds });
      else return;
    } else {
      stopReason = reason;
      log(SIGNALS.has(reason) || reason === 'max-duration' ? 'info' : 'warn', 'stopping', { reason, ...detail, prefix });
    }
    if (byDeadline < deadline) {
      deadline = byDeadline;
      // Whatever happens below, the process is gone before ECS's SIGKILL.
      clearTimeout(hardExit);
      hardExit = setTimeout(() => {
        log('error', 'exit deadline reached with the recording still finishing', { reason: stopReason });
        process.exit(3);
      }, deadline - Date.now() + FINAL_MANIFEST_MS + 2_000);
      hardExit.unref();
    }
    onStop();
  };
  process.on('SIGTERM', () => requestStop('SIGTERM'));
  process.on('SIGINT', () => requestStop('SIGINT'));

  const { S3Client, PutObjectCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    // Our own retries (lib/segment-uploader.mjs) decide how long to keep at it; every request has a
    // connection timeout and fails when S3 stays silent for RECORDER_S3_TIMEOUT_SECONDS.
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 5_000, socketTimeout: config.s3TimeoutSeconds * 1000 },
    // The SDK's own warnings (e.g. on a failed streaming upload, which we retry and log ourselves)
    // as JSON lines, not free text on the console.
    logger: {
      debug() {},
      info() {},
      warn: (message) => log('warn', 'aws sdk', { message: String(message).split('\n')[0] }),
      error: (message) => log('error', 'aws sdk', { message: String(message).split('\n')[0] }),
    },
  });

  if (stopReason) {
    log('info', 'stopped before the recording began: nothing recorded, nothing uploaded', { bucket, prefix });
    client.destroy();
    return 0;
  }

  const segmentDir = config.segmentDir ?? (await mkdtemp(join(tmpdir(), 'recording-')));
  const startedAt = new Date();
  const uploader = new SegmentUploader({
    client,
    PutObjectCommand,
    bucket,
    fileName: key,
    prefix,
    segmentDir,
    segmentSeconds: config.segmentSeconds,
    startedAt: startedAt.toISOString(),
  });

  const args = ffmpegArgs(config, segmentDir);
  log('info', 'recording', {
    bucket,
    prefix,
    segmentSeconds: config.segmentSeconds,
    maxMinutes: config.maxMinutes,
    width: config.width,
    height: config.height,
    audioInput: config.audioInput,
    display: config.display,
    captureQueueMiB: Math.round(captureQueueBytes(config.width, config.height) / 1024 / 1024),
    ffmpeg: args.join(' '),
  });
  const ffmpeg = spawn('ffmpeg', args, { stdio: ['pipe', 'ignore', 'pipe'], env: ffmpegEnv(process.env) });

  // ffmpeg's own messages (warnings and errors only, -loglevel warning), one JSON line each; the last
  // few are kept for the failure report.
  const stderrTail = [];
  createInterface({ input: ffmpeg.stderr }).on('line', (line) => {
    log('warn', 'ffmpeg', { line });
    stderrTail.push(line);
    if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
  });
  // Writing `q` to an ffmpeg that has just exited fails with EPIPE: that is its exit's business.
  ffmpeg.stdin.on('error', () => {});

  let exited = false;
  const escalation = [];
  const ffmpegDone = new Promise((resolve) => {
    ffmpeg.on('error', (error) => {
      exited = true;
      resolve({ error });
    });
    ffmpeg.on('close', (code, signal) => {
      exited = true;
      resolve({ code, signal });
    });
  });

  let stopAsked = false;
  let watch = null;
  const stopCapture = () => {
    uploader.setDeadline(deadline);
    watch?.close();
    if (exited || stopAsked) return;
    stopAsked = true;
    // `q` is ffmpeg's own "finish now": it stops reading the inputs, flushes the encoders and closes
    // the last segment, then exits 0.
    ffmpeg.stdin.end('q');
    let delay = 0;
    for (const [signal, after] of STOP_ESCALATION) {
      delay += after;
      escalation.push(
        setTimeout(() => {
          if (exited) return;
          log('warn', `ffmpeg has not finished: sending it ${signal}`);
          ffmpeg.kill(signal);
        }, delay),
      );
    }
  };
  onStop = stopCapture;
  if (stopReason) stopCapture(); // arrived during the SDK's import

  // Each segment ffmpeg closes (a line of its list) goes to the uploader.
  let lastQueued = 0;
  const listPath = join(segmentDir, SEGMENT_LIST);
  const queueClosedSegments = async () => {
    const text = existsSync(listPath) ? readFileSync(listPath, 'utf8') : '';
    for (const segment of parseSegmentList(text)) {
      if (segment.number <= lastQueued) continue;
      lastQueued = segment.number;
      await uploader.add(segment);
    }
    if (!stopReason && uploader.backlogBytes() > config.maxBacklogBytes) {
      requestStop('storage-backlog', { backlogBytes: uploader.backlogBytes(), waiting: uploader.pending.length });
    }
  };
  const listPoll = setInterval(() => {
    queueClosedSegments().catch((error) => log('error', 'could not read the segment list', { error: describe(error) }));
  }, SEGMENT_LIST_POLL_MS);

  if (config.pageDebugUrl) {
    watch = new PageWatch({
      debugUrl: config.pageDebugUrl,
      joinTimeoutSeconds: config.joinTimeoutSeconds,
      endGraceSeconds: config.endGraceSeconds,
      onEnd: (reason, detail) => requestStop(reason, detail),
    });
    watch.start().catch((error) => log('error', 'could not watch the meeting page', { error: describe(error) }));
  }
  const maxDuration = setTimeout(() => requestStop('max-duration', { maxMinutes: config.maxMinutes }), config.maxMinutes * 60_000);
  const progress = setInterval(() => {
    log('info', 'recording in progress', {
      seconds: Math.round((Date.now() - startedAt) / 1000),
      segmentsStored: uploader.stored.length,
      segmentsWaiting: uploader.pending.length,
    });
  }, PROGRESS_EVERY_MS);
  progress.unref();

  const { error, code, signal } = await ffmpegDone;
  for (const timer of escalation) clearTimeout(timer);
  clearInterval(listPoll);
  clearTimeout(maxDuration);
  clearInterval(progress);
  watch?.close();

  let captureFailure = null;
  if (error) {
    captureFailure = error.code === 'ENOENT' ? 'ffmpeg is not installed (not on PATH)' : `ffmpeg could not start: ${describe(error)}`;
  } else if (code !== 0 && !(stopAsked && (code === 255 || signal))) {
    captureFailure = `ffmpeg failed (${signal ? `killed by ${signal}` : `exit code ${code}`})`;
  }
  if (captureFailure) log('error', captureFailure, { ffmpegStderr: stderrTail });
  if (!stopReason) requestStop(captureFailure ? 'capture-failed' : 'capture-ended');

  // The segments ffmpeg closed last, then any it could not close (killed): fragmented, so playable up
  // to its last fragment, and uploaded like the others.
  await queueClosedSegments();
  const leftover = existsSync(segmentDir)
    ? readdirSync(segmentDir)
        .map((name) => ({ name, number: segmentNumber(name) }))
        .filter(({ number }) => number !== null && number > lastQueued)
        .sort((a, b) => a.number - b.number)
    : [];
  let start = uploader.stored.concat(uploader.pending).reduce((end, s) => Math.max(end, s.endSeconds), 0);
  const elapsed = Math.round((Date.now() - startedAt) / 10) / 100;
  for (const { name, number } of leftover) {
    log('warn', 'uploading a segment ffmpeg did not close', { segment: number });
    lastQueued = number;
    await uploader.add({ number, file: name, startSeconds: start, endSeconds: Math.max(elapsed, start) });
    start = Math.max(elapsed, start);
  }

  const { stored, notStored, manifestOk } = await uploader.finish(stopReason);
  clearTimeout(hardExit);
  client.destroy();

  const exitCode = notStored.length > 0 ? 3 : captureFailure ? 1 : 0;
  const summary = {
    reason: stopReason,
    exitCode,
    bucket,
    prefix,
    seconds: Math.round((Date.now() - startedAt) / 100) / 10,
    stored: stored.map((s) => s.number),
    storedBytes: stored.reduce((sum, s) => sum + s.bytes, 0),
    notStored: notStored.map(({ number, file, bytes }) => ({ number, file, bytes })),
    manifestWritten: manifestOk,
  };
  log(exitCode === 0 ? 'info' : 'error', 'exit summary', summary);
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    log('error', `unexpected failure: ${describe(error)}`);
    process.exit(1);
  },
);
