// Helpers of the capture tests: the bucket in moto, the recorder's environment, what S3 holds
// afterwards, and a source of motion for the display (so that a few seconds exceed one 5 MiB part).

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';

import { requireTool, stopChild, tempDir } from '../support/harness.js';

export const WIDTH = 320;
export const HEIGHT = 240;

export async function createBucket(moto, name = 'switchboard-recordings-test') {
  await moto.s3.send(new CreateBucketCommand({ Bucket: name, CreateBucketConfiguration: { LocationConstraint: moto.env.AWS_REGION } }));
  return name;
}

/** The environment record.mjs gets in the capture tests: the contract at a small size, silent audio. */
export function recordingEnv({ moto, display, bucket, key, ...more }) {
  return {
    ...moto.env,
    TASK_TYPE: 'RECORDING',
    DISPLAY: display,
    RECORDING_AUDIO_INPUT: 'silent',
    RECORDING_SCREEN_WIDTH: String(WIDTH),
    RECORDING_SCREEN_HEIGHT: String(HEIGHT),
    RECORDING_BUCKET_NAME: bucket,
    RECORDING_FILE_NAME: key,
    ...more,
  };
}

export async function openUploads(moto, bucket) {
  const answer = await moto.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return answer.Uploads ?? [];
}

export async function objectKeys(moto, bucket) {
  const answer = await moto.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (answer.Contents ?? []).map((object) => object.Key);
}

/** GETs the object into a temporary file. Returns { file, bytes, contentType }. */
export async function download(t, moto, bucket, key) {
  const answer = await moto.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = Buffer.from(await answer.Body.transformToByteArray());
  const dir = await tempDir(t);
  const file = join(dir, 'recording.mp4');
  await writeFile(file, body);
  return { file, bytes: body.length, contentType: answer.ContentType };
}

/** The JSON lines of a recorder's output (other lines, such as Node's warnings, are skipped). */
export function logLines(output) {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
}

/** The pid of `parent`'s child process named `name` (read from /proc), or null. */
export function childPid(parent, name) {
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid …; comm may hold spaces, so split after its closing parenthesis.
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === parent && comm === name) return Number(entry);
  }
  return null;
}

/**
 * Random noise played full-screen on the display (ffmpeg's SDL output), so that the capture has
 * something incompressible to encode: at a high bitrate, a few seconds exceed one 5 MiB part and the
 * upload goes multipart as a real meeting's does. Stopped after the test.
 */
export function startNoise(t, display) {
  const ffmpeg = requireTool('ffmpeg');
  const child = spawn(
    ffmpeg,
    [
      '-hide_banner', '-loglevel', 'error', '-re',
      '-f', 'lavfi', '-i', `nullsrc=s=${WIDTH}x${HEIGHT}:r=30,geq=lum='random(1)*255':cb='random(2)*255':cr='random(3)*255'`,
      '-pix_fmt', 'yuv420p', '-window_fullscreen', '1', '-f', 'sdl2', 'noise',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH, DISPLAY: display, SDL_AUDIODRIVER: 'dummy' } },
  );
  t.after(() => stopChild(child));
  return child;
}
