// What the recorder's tests start: moto's S3 on a free loopback port, Xvfb on a free display,
// Debian's chromium through puppeteer-core, and the recorder's own scripts as child processes.
// Everything is stopped after its test, by the pid (or process group) the test started. A missing
// tool fails the test with a message naming it: nothing is skipped.

import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RECORDER = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MOTO_SERVER = process.env.MOTO_SERVER ?? join(RECORDER, '..', '.venv', 'bin', 'moto_server');

const INSTALL_HINTS = {
  ffmpeg: 'apt-get install -y --no-install-recommends ffmpeg',
  ffprobe: 'apt-get install -y --no-install-recommends ffmpeg',
  Xvfb: 'apt-get install -y --no-install-recommends xvfb',
  chromium: 'apt-get install -y --no-install-recommends chromium, or set CHROMIUM_PATH',
};

/** The tool's path; throws naming the tool and how to install it when it is not there. */
export function requireTool(name) {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || !path) {
    throw new Error(`${name} is required by this test and is not on PATH (${INSTALL_HINTS[name] ?? 'install it'})`);
  }
  return path;
}

export function chromiumPath() {
  const path = process.env.CHROMIUM_PATH ?? requireTool('chromium');
  if (!existsSync(path)) throw new Error(`chromium not found at ${path} (${INSTALL_HINTS.chromium})`);
  return path;
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `check()` to return a truthy value, every 100 ms, up to `timeoutMs`. */
export async function until(check, { timeoutMs = 10_000, what = 'the condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Stops a child we started: SIGTERM, then SIGKILL if it lingers. `group` kills its process group. */
export async function stopChild(child, { group = false, graceMs = 3_000 } = {}) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const send = (signal) => {
    try {
      if (group) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      // already gone
    }
  };
  send('SIGTERM');
  const timer = setTimeout(() => send('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  // The group may outlive its leader (chromium's helpers): make sure nothing of it is left.
  if (group) send('SIGKILL');
}

/**
 * moto's server on a free 127.0.0.1 port; stopped after the test. Returns { endpoint, env, s3 }:
 * `env` is the AWS environment for a child process, `s3` an S3 client on it.
 */
export async function startMoto(t) {
  if (!existsSync(MOTO_SERVER)) {
    throw new Error(`moto_server is required by this test and is not at ${MOTO_SERVER} (the repository's .venv: make setup; or set MOTO_SERVER)`);
  }
  const port = await freePort();
  const child = spawn(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  t.after(() => stopChild(child));
  const endpoint = `http://127.0.0.1:${port}`;
  await until(
    async () => {
      if (child.exitCode !== null) throw new Error(`moto_server exited (${child.exitCode}): ${stderr}`);
      return fetch(`${endpoint}/moto-api/`).then(
        (response) => response.ok,
        () => false,
      );
    },
    { timeoutMs: 20_000, what: 'moto_server to answer' },
  );
  // A secret that no log may show (the tests grep the recorder's output for it).
  const env = {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: 'eu-west-2',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: `secret-${randomUUID()}`,
    AWS_SESSION_TOKEN: `session-${randomUUID()}`,
  };
  const { S3Client } = await import('@aws-sdk/client-s3');
  const s3 = new S3Client({
    region: env.AWS_REGION,
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
  });
  t.after(() => s3.destroy());
  return { endpoint, env, s3 };
}

/**
 * Xvfb on a display number of its own choosing (-displayfd: it writes the number once it is
 * ready), at `width`x`height`x24; stopped after the test. Returns { display, child }.
 */
export async function startXvfb(t, { width = 320, height = 240 } = {}) {
  const xvfb = requireTool('Xvfb');
  const child = spawn(xvfb, ['-displayfd', '3', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp', '-noreset'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  t.after(() => stopChild(child));
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const number = await new Promise((resolve, reject) => {
    let out = '';
    child.stdio[3].on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`Xvfb exited (${code}) before it was ready: ${stderr}`)));
    setTimeout(() => reject(new Error(`Xvfb was not ready after 10 s: ${stderr}`)), 10_000).unref();
  });
  return { display: `:${number}`, child };
}

/**
 * A display number no X server uses (for run.sh, which starts its own Xvfb). Checks the lock files
 * and sockets, from 90 up, so as not to collide with a developer's :0/:1.
 */
export function unusedDisplayNumber() {
  for (let n = 90 + Math.floor(Math.random() * 100); n < 400; n += 1) {
    if (!existsSync(`/tmp/.X${n}-lock`) && !existsSync(`/tmp/.X11-unix/X${n}`)) return n;
  }
  throw new Error('no free X display number between 90 and 400');
}

/**
 * Runs a script of the recorder as a child process. Returns { child, output(), exited }: `output()`
 * is stdout+stderr so far, `exited` resolves to { code, signal, ms }.
 */
export function runScript(command, args, { env, detached = false } = {}) {
  const started = Date.now();
  const child = spawn(command, args, {
    cwd: RECORDER,
    env: { PATH: process.env.PATH, HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached,
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, ms: Date.now() - started }));
  });
  return { child, output: () => output, exited };
}

/** A temporary directory, removed after the test. */
export async function tempDir(t, prefix = 'recorder-test-') {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The S3 key layout of start-recording (spec "Recording"), for a test recording. */
export function recordingKey(prefix = 'test') {
  return `RECORDINGS/2026/12/04/09/${prefix}_${randomUUID()}_20261204T090000_UTC.mp4`;
}

/** ffprobe's view of a file: { duration (s), streams: [{codec_type, codec_name, width, height, …}] }. */
export function probe(file) {
  const ffprobe = requireTool('ffprobe');
  const duration = spawnSync(ffprobe, ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], {
    encoding: 'utf8',
  });
  if (duration.status !== 0) throw new Error(`ffprobe failed on ${file}: ${duration.stderr}`);
  const streams = spawnSync(
    ffprobe,
    ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name,profile,width,height,pix_fmt,sample_rate,channels', '-of', 'json', file],
    { encoding: 'utf8' },
  );
  if (streams.status !== 0) throw new Error(`ffprobe failed on ${file}: ${streams.stderr}`);
  return { duration: Number.parseFloat(duration.stdout.trim()), streams: JSON.parse(streams.stdout).streams };
}
