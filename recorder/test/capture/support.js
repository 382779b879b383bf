// Helpers of the capture tests: the bucket in moto, the recorder's environment, what S3 holds
// afterwards (segments and manifest), and a source of motion for the display.

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

import assert from 'node:assert/strict';

import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';

import { manifestKey, recordingPrefix, segmentKey } from '../../lib/segments.mjs';
import { chromiumPath, probe, requireTool, stopChild, tempDir } from '../support/harness.js';

export const WIDTH = 320;
export const HEIGHT = 240;

export async function createBucket(moto, name = 'switchboard-recordings-test') {
  await moto.s3.send(new CreateBucketCommand({ Bucket: name, CreateBucketConfiguration: { LocationConstraint: moto.env.AWS_REGION } }));
  return name;
}

/**
 * The environment record.mjs gets in the capture tests: the contract at a small size, silent audio,
 * 2-second segments. `endpoint` replaces moto's (a faulty proxy in front of it).
 */
export function recordingEnv({ moto, display, bucket, key, endpoint = moto.endpoint, ...more }) {
  return {
    ...moto.env,
    AWS_ENDPOINT_URL: endpoint,
    RECORDING_SEGMENT_SECONDS: '2',
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
  const file = join(dir, key.split('/').pop());
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

/** Every line of the output is one JSON object with a level and a message (a person can follow it). */
export function assertJsonLines(output) {
  for (const line of output.split('\n').filter((l) => l.trim() !== '')) {
    let parsed;
    assert.doesNotThrow(() => {
      parsed = JSON.parse(line);
    }, `a log line that is not JSON: ${line}`);
    assert.ok(typeof parsed.level === 'string' && typeof parsed.msg === 'string', `a log line without level and msg: ${line}`);
  }
}

/** The recording's manifest in S3, or null. */
export async function manifest(moto, bucket, key) {
  try {
    const answer = await moto.s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifestKey(recordingPrefix(key)) }));
    return JSON.parse(await answer.Body.transformToString());
  } catch (error) {
    if (error.name === 'NoSuchKey') return null;
    throw error;
  }
}

/** The segment numbers stored under the recording's prefix (from the listing, not the manifest). */
export async function storedSegmentNumbers(moto, bucket, key) {
  const prefix = recordingPrefix(key);
  return (await objectKeys(moto, bucket))
    .filter((k) => k.startsWith(`${prefix}segment-`))
    .map((k) => Number(/segment-([0-9]+)\.mp4$/.exec(k)[1]))
    .sort((a, b) => a - b);
}

/** 1..n */
export function oneTo(n) {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/**
 * Downloads every stored segment and checks each plays on its own (H.264 main + AAC at the test
 * size). Returns the total duration in seconds.
 */
export async function assertSegmentsPlay(t, moto, bucket, key, numbers, { files = [] } = {}) {
  let total = 0;
  for (const number of numbers) {
    const { file, contentType } = await download(t, moto, bucket, segmentKey(recordingPrefix(key), number));
    assert.equal(contentType, 'video/mp4');
    total += assertPlayable(file);
    files.push(file);
  }
  return total;
}

/** The checks every stored piece of a recording passes: playable, the right streams. Returns its duration. */
export function assertPlayable(file) {
  const { duration, streams } = probe(file);
  assert.ok(duration > 0 && duration < 60, `duration ${duration} s of ${file}`);
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

/** The resident memory of a process in bytes (0 once it is gone). */
export function rssBytes(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+([0-9]+) kB/.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
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
 * something incompressible to encode and its segments are as large as the bitrate allows. Stopped
 * after the test.
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

/**
 * Plays each file in Debian's chromium as the agent-app's player does (`<video><source
 * type="video/mp4">`): its metadata load (the size of the capture), and playback moves past half a
 * second, or to the end of a shorter file. Returns each file's duration as the browser sees it.
 */
export async function assertBrowserPlays(t, files) {
  const { default: puppeteer } = await import('puppeteer-core');
  const profile = await tempDir(t, 'player-');
  const browser = await puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    userDataDir: profile,
    args: ['--no-sandbox', '--no-first-run', '--autoplay-policy=no-user-gesture-required', '--allow-file-access-from-files'],
  });
  t.after(() => browser.close());
  const durations = [];
  for (const file of files) {
    const player = join(dirname(file), `${basename(file)}.html`);
    await writeFile(player, `<!doctype html><video muted controls><source src="${basename(file)}" type="video/mp4"></video>`);
    const page = await browser.newPage();
    await page.goto(pathToFileURL(player).href);
    const seen = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const video = document.querySelector('video');
          const report = (outcome) => resolve({ outcome, duration: video.duration, width: video.videoWidth, height: video.videoHeight, time: video.currentTime, error: video.error?.message ?? null });
          const check = () => {
            if (video.currentTime >= Math.min(0.5, video.duration - 0.1)) report('played');
          };
          video.addEventListener('error', () => report('error'), true);
          video.querySelector('source').addEventListener('error', () => report('error'));
          video.addEventListener('timeupdate', check);
          video.addEventListener('ended', () => report('played'));
          const play = () => video.play().catch((e) => resolve({ outcome: `play() refused: ${e.message}` }));
          // The metadata may have loaded before this script ran.
          if (video.readyState >= 1) play();
          else video.addEventListener('loadedmetadata', play);
          setTimeout(() => report('timeout'), 10_000);
        }),
    );
    assert.equal(seen.outcome, 'played', `${file} in the browser: ${JSON.stringify(seen)}`);
    assert.equal(seen.width, WIDTH);
    assert.equal(seen.height, HEIGHT);
    durations.push(seen.duration);
    await page.close();
  }
  return durations;
}
