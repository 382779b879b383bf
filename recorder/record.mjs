#!/usr/bin/env node
// The capture: ffmpeg records the X display (and the meeting's audio) into a fragmented MP4 on its
// stdout, which is streamed to s3://$RECORDING_BUCKET_NAME/$RECORDING_FILE_NAME by a multipart upload
// (@aws-sdk/lib-storage, 5 MiB parts) while the meeting goes on.
//
// Lifecycle (spec "The recorder"):
// - TASK_TYPE=PRE_WARM: one log line, exit 0 (the task only exists to have the image pulled).
// - SIGTERM (ECS StopTask; docker stop) or SIGINT: ffmpeg is asked to finish (`q` on its stdin; SIGINT,
//   then SIGTERM if it does not) so it flushes the encoder and writes the last fragment; the upload is
//   then completed and the process exits 0 with the key and the byte count in the log. Nothing
//   recorded is lost as long as the task definition's stopTimeout leaves the time (README).
// - ffmpeg fails, or the upload does: the multipart upload is aborted (no parts left behind, no
//   half-written object) and the process exits 1. A bad environment exits 2.
//
// The upload can only complete once ffmpeg has exited successfully: ffmpeg's stdout is piped into
// the upload's body without passing on its end, and the body is ended (or destroyed, on failure)
// from ffmpeg's exit status. So a crashed ffmpeg can never leave a truncated object that looks done.
//
// Logs are JSON lines. They never contain credentials, the environment or the join token (the
// capture never reads CHIME_* at all), and ffmpeg is started without the AWS variables.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';

import { EnvError, parseEnv } from './lib/env.mjs';
import { ffmpegArgs } from './lib/ffmpeg-args.mjs';

const PART_SIZE = 5 * 1024 * 1024; // S3's minimum part size: the least held in memory per part.
const QUEUE_SIZE = 4; // parts uploaded concurrently (at most ~25 MiB buffered).
// After `q`, how long ffmpeg gets before SIGINT, then before SIGTERM. Never SIGKILL on a stop: a
// killed ffmpeg loses its last fragment, and ECS kills the whole task at stopTimeout anyway.
const STOP_ESCALATION_MS = [10_000, 10_000];
const PROGRESS_EVERY_MS = 60_000;
const STDERR_TAIL_LINES = 20;

function log(level, msg, fields = {}) {
  const line = JSON.stringify({ level, msg, ...fields });
  if (level === 'error' || level === 'warn') console.error(line);
  else console.log(line);
}

/** The message of an error, with an AWS error's name and HTTP status; never its request. */
function describe(error) {
  if (!error) return 'unknown error';
  const status = error.$metadata?.httpStatusCode;
  return `${error.name ?? 'Error'}: ${error.message ?? String(error)}${status ? ` (HTTP ${status})` : ''}`;
}

/** The environment for ffmpeg: ours without the AWS credentials and settings it has no use for. */
function ffmpegEnv(env) {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('AWS_')));
}

async function main() {
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

  // The stop handlers go in before anything else: a StopTask that arrives while we start must not
  // kill the process with Node's default handler (nor be lost).
  let stopRequested = null; // the signal's name once one arrived
  let onStop = () => {};
  const stop = (signal) => {
    if (stopRequested) {
      log('info', `${signal} received again: still finishing the recording`);
      return;
    }
    stopRequested = signal;
    log('info', `${signal} received: finishing the recording`, { bucket, key });
    onStop();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  const { S3Client, AbortMultipartUploadCommand } = await import('@aws-sdk/client-s3');
  const { Upload } = await import('@aws-sdk/lib-storage');
  const client = new S3Client({
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
  });

  if (stopRequested) {
    log('info', 'stopped before the recording began: nothing recorded, nothing uploaded', { bucket, key });
    client.destroy();
    return 0;
  }

  const args = ffmpegArgs(config);
  log('info', 'recording', {
    bucket,
    key,
    width: config.width,
    height: config.height,
    audioInput: config.audioInput,
    display: config.display,
    ffmpeg: args.join(' '),
  });
  const startedAt = Date.now();
  const ffmpeg = spawn('ffmpeg', args, { stdio: ['pipe', 'pipe', 'pipe'], env: ffmpegEnv(process.env) });

  // ffmpeg's own messages (warnings and errors only, -loglevel warning) go to our log, and the last
  // few are kept for the failure report.
  const stderrTail = [];
  createInterface({ input: ffmpeg.stderr }).on('line', (line) => {
    console.error(`ffmpeg: ${line}`);
    stderrTail.push(line);
    if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
  });
  // Writing `q` to an ffmpeg that has just exited fails with EPIPE: that is its exit's business.
  ffmpeg.stdin.on('error', () => {});

  let bytes = 0;
  const body = new PassThrough();
  ffmpeg.stdout.on('data', (chunk) => {
    bytes += chunk.length;
  });
  ffmpeg.stdout.pipe(body, { end: false });

  const upload = new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: body, ContentType: 'video/mp4' },
    partSize: PART_SIZE,
    queueSize: QUEUE_SIZE,
    leavePartsOnError: false,
  });
  const uploaded = upload.done().then(
    (result) => ({ ok: true, result }),
    (error) => ({ ok: false, error }),
  );

  let exited = false;
  let signalled = false; // whether we had to signal ffmpeg (it then exits 255 after a clean finish)
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

  onStop = () => {
    if (exited) return;
    // `q` is ffmpeg's own "finish now": it stops reading the inputs, flushes the encoders and writes
    // the last fragment, then exits 0.
    ffmpeg.stdin.end('q');
    let delay = 0;
    for (const [index, signal] of ['SIGINT', 'SIGTERM'].entries()) {
      delay += STOP_ESCALATION_MS[index];
      escalation.push(
        setTimeout(() => {
          if (exited) return;
          log('warn', `ffmpeg has not finished: sending it ${signal}`);
          signalled = true;
          ffmpeg.kill(signal);
        }, delay),
      );
    }
  };
  if (stopRequested) onStop(); // arrived during the SDK's import

  const progress = setInterval(() => {
    log('info', 'recording in progress', { key, bytes, seconds: Math.round((Date.now() - startedAt) / 1000) });
  }, PROGRESS_EVERY_MS);
  progress.unref();

  // ffmpeg's exit decides the body's end: a success ends it (the upload sends its last part and
  // completes), anything else destroys it with the error (lib-storage then aborts the multipart
  // upload before its done() rejects).
  let ffmpegFailure = null;
  ffmpegDone.then(({ error, code, signal }) => {
    for (const timer of escalation) clearTimeout(timer);
    if (error) {
      ffmpegFailure = error.code === 'ENOENT' ? 'ffmpeg is not installed (not on PATH)' : `ffmpeg could not start: ${describe(error)}`;
    } else if (code === 0) {
      if (!stopRequested) log('warn', 'ffmpeg ended by itself (was the display closed?): keeping what it recorded');
    } else if (code === 255 && signalled) {
      // ffmpeg's exit status after a signal, once it has finished writing: still a complete file.
    } else {
      ffmpegFailure = `ffmpeg failed (${signal ? `killed by ${signal}` : `exit code ${code}`})`;
    }
    if (ffmpegFailure) body.destroy(new Error(ffmpegFailure));
    else body.end();
  });

  // An upload that fails on its own (S3 refused a part…) stops reading the body, so ffmpeg blocks on
  // a full pipe: close our end (it gets EPIPE) and signal it. Its output is discarded anyway.
  let uploadFailedFirst = false;
  uploaded.then(({ ok }) => {
    if (ok || exited) return;
    uploadFailedFirst = true;
    log('warn', 'the upload failed while recording: stopping ffmpeg', { key });
    ffmpeg.stdout.unpipe(body);
    ffmpeg.stdout.destroy();
    ffmpeg.kill('SIGTERM');
    setTimeout(() => exited || ffmpeg.kill('SIGKILL'), 5_000).unref();
  });

  const [, outcome] = await Promise.all([ffmpegDone, uploaded]);
  clearInterval(progress);
  const seconds = Math.round((Date.now() - startedAt) / 100) / 10;

  if (!ffmpegFailure && outcome.ok) {
    log('info', 'recording uploaded', { bucket, key, bytes, seconds, stoppedBy: stopRequested });
    client.destroy();
    return 0;
  }

  // The cause, once: an ffmpeg that we stopped because the upload had failed is not one, and an
  // upload that failed because ffmpeg did carries ffmpeg's failure as its error.
  if (ffmpegFailure && !uploadFailedFirst) {
    log('error', ffmpegFailure, { key, bytes, seconds, ffmpegStderr: stderrTail });
  }
  if (!outcome.ok && (uploadFailedFirst || !ffmpegFailure)) {
    log('error', `upload failed: ${describe(outcome.error)}`, { bucket, key, bytes, seconds });
  }
  // lib-storage aborts its multipart upload itself on these paths; this makes sure of it (an abort
  // of an upload already aborted answers NoSuchUpload, which is the state we want).
  await upload.abort();
  if (upload.uploadId) {
    try {
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.uploadId }));
    } catch (error) {
      if (error.name !== 'NoSuchUpload') log('error', `could not abort the multipart upload: ${describe(error)}`, { bucket, key });
    }
  }
  log('error', 'recording failed: nothing was stored', { bucket, key });
  client.destroy();
  return 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    log('error', `unexpected failure: ${describe(error)}`);
    process.exit(1);
  },
);
