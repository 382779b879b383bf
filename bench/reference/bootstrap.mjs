#!/usr/bin/env node
// A minimal Lambda custom-runtime loop that does what the managed Node.js runtime does for an async
// handler: import the handler named by `_HANDLER` at init, then for each invocation GET the next
// event from the Runtime API, call `await handler(event, context)` and POST its JSON answer (or the
// error it threw). Benchmark reference only: see README.md.
//
// node:http with one keep-alive socket rather than global fetch: fetch loads and compiles undici on
// first use, which would put tens of milliseconds into init that the managed runtime (a native
// client) does not pay.

import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const api = process.env.AWS_LAMBDA_RUNTIME_API;
const separator = api?.lastIndexOf(':') ?? -1;
if (separator < 0) {
  console.error('AWS_LAMBDA_RUNTIME_API is not set (host:port)');
  process.exit(1);
}
const host = api.slice(0, separator).replace(/^\[(.*)\]$/, '$1');
const port = Number(api.slice(separator + 1));
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const base = '/2018-06-01/runtime';

/** One request to the Runtime API: `{status, headers, body}` (the body as text). */
function call(method, route, body, headers = {}) {
  return new Promise((resolve, reject) => {
    if (body !== undefined) {
      headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers };
    }
    const request = http.request({ agent, host, port, method, path: base + route, headers }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** `{errorType, errorMessage}` for anything thrown. */
function diagnostic(error, fallbackType) {
  if (error instanceof Error) {
    return { errorType: error.name || fallbackType, errorMessage: error.message };
  }
  return { errorType: fallbackType, errorMessage: String(error) };
}

async function postError(route, error, fallbackType) {
  const answer = diagnostic(error, fallbackType);
  await call('POST', route, JSON.stringify(answer), { 'lambda-runtime-function-error-type': answer.errorType });
}

/** Imports `<dir>/<module>.handler` from the task root (the managed runtime's `_HANDLER` form). */
async function loadHandler() {
  const spec = process.env._HANDLER ?? '';
  const dot = spec.lastIndexOf('.');
  if (dot <= 0 || dot === spec.length - 1) {
    throw Object.assign(new Error(`Bad handler ${spec}: expected <module>.<export>`), { name: 'Runtime.MalformedHandlerName' });
  }
  const root = process.env.LAMBDA_TASK_ROOT || path.dirname(fileURLToPath(import.meta.url));
  const file = path.resolve(root, `${spec.slice(0, dot)}.mjs`);
  let module;
  try {
    module = await import(pathToFileURL(file).href);
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND') {
      throw Object.assign(new Error(error.message), { name: 'Runtime.ImportModuleError' });
    }
    throw error; // the module's own init failed (a configuration error, …): its error as it is
  }
  const handler = module[spec.slice(dot + 1)];
  if (typeof handler !== 'function') {
    throw Object.assign(new Error(`${spec} is undefined or not exported`), { name: 'Runtime.HandlerNotFound' });
  }
  return handler;
}

/** A header that carries JSON (client context, Cognito identity), when present and well-formed. */
function jsonHeader(value) {
  try {
    return value ? JSON.parse(value) : undefined;
  } catch {
    return undefined;
  }
}

let handler;
try {
  handler = await loadHandler();
} catch (error) {
  console.error(JSON.stringify({ level: 'ERROR', message: 'init failed', ...diagnostic(error, 'Runtime.InitError') }));
  try {
    await postError('/init/error', error, 'Runtime.InitError');
  } finally {
    process.exit(1);
  }
}

const env = process.env;
for (;;) {
  const next = await call('GET', '/invocation/next');
  if (next.status !== 200) {
    throw new Error(`the Runtime API answered ${next.status} to invocation/next: ${next.body}`);
  }
  const id = next.headers['lambda-runtime-aws-request-id'];
  const deadline = Number(next.headers['lambda-runtime-deadline-ms']);
  const trace = next.headers['lambda-runtime-trace-id'];
  if (trace) {
    env._X_AMZN_TRACE_ID = trace; // as the managed runtime does: the SDK passes it on (recursion detection)
  } else {
    delete env._X_AMZN_TRACE_ID;
  }
  const context = {
    awsRequestId: id,
    invokedFunctionArn: next.headers['lambda-runtime-invoked-function-arn'],
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: jsonHeader(next.headers['lambda-runtime-client-context']),
    identity: jsonHeader(next.headers['lambda-runtime-cognito-identity']),
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };

  let answer;
  try {
    const event = JSON.parse(next.body);
    answer = JSON.stringify((await handler(event, context)) ?? null);
  } catch (error) {
    await postError(`/invocation/${id}/error`, error, 'Error');
    continue;
  }
  await call('POST', `/invocation/${id}/response`, answer);
}
