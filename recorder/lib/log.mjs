// The recorder's log: one JSON object per line (`level`, `msg`, fields), info on stdout, warn and
// error on stderr, so that the task's awslogs stream is machine-readable and a person can follow it by
// `msg`. Nothing else may write to the task log: ffmpeg's messages and Node's own warnings come
// through here too (as fields of a JSON line, never as free text).
//
// No line ever holds a credential, the environment or the join data: callers log ids, keys, counts
// and error names, never a request.

export function log(level, msg, fields = {}) {
  const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields });
  if (level === 'error' || level === 'warn') process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
}

/** The message of an error, with an AWS error's name and HTTP status; never its request. */
export function describe(error) {
  if (!error) return 'unknown error';
  const status = error.$metadata?.httpStatusCode;
  const message = String(error.message ?? error).split('\n')[0].slice(0, 300);
  return `${error.name ?? 'Error'}: ${message}${status ? ` (HTTP ${status})` : ''}`;
}

/**
 * Node's process warnings as JSON lines instead of its multi-line text, and the AWS SDK's notice
 * about Node versions silenced on purpose: the image runs Node 22 (Dockerfile), which the SDK
 * supports; the notice only appears where the tests run an older Node, and would be free text.
 */
export function captureProcessWarnings() {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    log('warn', 'node warning', { name: warning.name, warning: String(warning.message).split('\n')[0] });
  });
}
