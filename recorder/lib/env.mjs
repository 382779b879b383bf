// The recorder's environment contract (spec "Recording"): what the start-recording Lambda's container
// override and the prewarm Lambda send, plus the few knobs of this container.
//
//   TASK_TYPE                 PRE_WARM → exit 0 at once; RECORDING (or unset, as the original) → record;
//                             anything else is refused (a typo must not silently record or not).
//   RECORDING_BUCKET_NAME     S3 bucket
//   RECORDING_FILE_NAME       the recording's name (RECORDINGS/YYYY/MM/DD/HH/<meeting>_<recordingId>_<ts>_UTC.mp4);
//                             its segments and manifest go under it without `.mp4` (lib/segments.mjs)
//   RECORDING_SCREEN_WIDTH    default 1920 } the Xvfb screen, the browser window and the grab size
//   RECORDING_SCREEN_HEIGHT   default 1080 }
//   RECORDING_AUDIO_INPUT     pulse (default: PulseAudio's default source, the null sink's monitor)
//                             | silent (a generated silent track: no PulseAudio, e.g. the tests)
//   RECORDING_VIDEO_BITRATE   default 3000k (as the original); the tests raise it to get several parts
//   DISPLAY                   the X display to grab, default :1 (run.sh's Xvfb)
//   AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL(_S3) (local: moto, path-style addressing)
//   RECORDING_SEGMENT_SECONDS default 300: the length of each MP4 segment (a fault costs at most one)
//   RECORDING_MAX_MINUTES     default 180: the recording ends itself after this long (template
//                             parameter RecordingMaxMinutes; fractions allowed, for the tests)
//
// Knobs of this container, with defaults for ECS (README "What ends a recording" and "Failures: what is kept, and the exit code"):
//   RECORDER_SEGMENT_DIR             where segments wait for S3 (default: a new directory in TMPDIR)
//   RECORDER_STOP_DEADLINE_SECONDS   default 110: after SIGTERM, the exit comes by then (ECS's
//                                    stopTimeout is 120 s; the rest is margin)
//   RECORDER_DRAIN_SECONDS           default 600: after the bot ends the recording itself (meeting
//                                    ended…), how long it keeps retrying segments S3 has not taken
//   RECORDER_S3_TIMEOUT_SECONDS      default 30: an S3 connection that stays silent this long fails
//   RECORDER_MAX_BACKLOG_MB          default 4096: more segments than this waiting for S3 on disk
//                                    stops the capture (logged), rather than fill the instance's disk
//   RECORDER_PAGE_DEBUG_URL          the browser's DevTools endpoint (run.sh sets it); unset: the
//                                    meeting page is not watched
//   RECORDER_JOIN_TIMEOUT_SECONDS    default 180: a page not in the meeting after this ends the recording
//   RECORDER_END_GRACE_SECONDS       default 10: how long the page must stay out of the meeting (ended,
//                                    bot removed, failed) before that ends the recording
//
// CHIME_MEETING_DATA / CHIME_ATTENDEE_DATA are the page's (lib/page-url.mjs), not the capture's.

export class EnvError extends Error {
  constructor(message) {
    super(message);
    this.name = 'EnvError';
  }
}

export const DEFAULT_WIDTH = 1920;
export const DEFAULT_HEIGHT = 1080;
export const DEFAULT_VIDEO_BITRATE = '3000k';
export const AUDIO_INPUTS = ['pulse', 'silent'];

/**
 * Parses the environment. Returns `{taskType: 'PRE_WARM'}` for a prewarm task (nothing else is read:
 * a prewarm task gets no recording variables), otherwise the full recording configuration. Throws an
 * EnvError naming the variable at fault; no message quotes a credential.
 */
export function parseEnv(env) {
  const taskType = (env.TASK_TYPE ?? '').trim() || 'RECORDING';
  if (taskType === 'PRE_WARM') return { taskType };
  if (taskType !== 'RECORDING') {
    throw new EnvError(`TASK_TYPE must be PRE_WARM or RECORDING, not ${JSON.stringify(taskType.slice(0, 40))}`);
  }

  const bucket = required(env, 'RECORDING_BUCKET_NAME');
  const key = required(env, 'RECORDING_FILE_NAME');
  if (key.startsWith('/')) throw new EnvError('RECORDING_FILE_NAME must be an S3 key, without a leading /');

  const width = dimension(env, 'RECORDING_SCREEN_WIDTH', DEFAULT_WIDTH);
  const height = dimension(env, 'RECORDING_SCREEN_HEIGHT', DEFAULT_HEIGHT);

  const audioInput = (env.RECORDING_AUDIO_INPUT ?? '').trim() || 'pulse';
  if (!AUDIO_INPUTS.includes(audioInput)) {
    throw new EnvError(`RECORDING_AUDIO_INPUT must be one of ${AUDIO_INPUTS.join(', ')}`);
  }

  const videoBitrate = (env.RECORDING_VIDEO_BITRATE ?? '').trim() || DEFAULT_VIDEO_BITRATE;
  if (!/^[1-9][0-9]*k$/.test(videoBitrate)) {
    throw new EnvError('RECORDING_VIDEO_BITRATE must be kilobits per second like 3000k');
  }

  const display = (env.DISPLAY ?? '').trim() || ':1';
  if (!/^[A-Za-z0-9.\-]*:[0-9]+(\.[0-9]+)?$/.test(display)) throw new EnvError('DISPLAY is not an X display like :1');

  const region = (env.AWS_REGION ?? '').trim() || (env.AWS_DEFAULT_REGION ?? '').trim();
  if (!region) throw new EnvError('AWS_REGION (or AWS_DEFAULT_REGION) is not set');
  const endpoint = (env.AWS_ENDPOINT_URL_S3 ?? '').trim() || (env.AWS_ENDPOINT_URL ?? '').trim() || null;

  const segmentSeconds = number(env, 'RECORDING_SEGMENT_SECONDS', 300, { min: 1, max: 1800, whole: true });
  const maxMinutes = number(env, 'RECORDING_MAX_MINUTES', 180, { min: 0.01, max: 1440 });
  const stopDeadlineSeconds = number(env, 'RECORDER_STOP_DEADLINE_SECONDS', 110, { min: 5, max: 115 });
  const drainSeconds = number(env, 'RECORDER_DRAIN_SECONDS', 600, { min: 5, max: 3600 });
  const s3TimeoutSeconds = number(env, 'RECORDER_S3_TIMEOUT_SECONDS', 30, { min: 1, max: 300 });
  const maxBacklogBytes = number(env, 'RECORDER_MAX_BACKLOG_MB', 4096, { min: 1, max: 1_000_000 }) * 1024 * 1024;
  const joinTimeoutSeconds = number(env, 'RECORDER_JOIN_TIMEOUT_SECONDS', 180, { min: 1, max: 3600 });
  const endGraceSeconds = number(env, 'RECORDER_END_GRACE_SECONDS', 10, { min: 0, max: 600 });
  const pageDebugUrl = (env.RECORDER_PAGE_DEBUG_URL ?? '').trim() || null;
  if (pageDebugUrl && !/^http:\/\/(127\.0\.0\.1|localhost):[0-9]+\/?$/.test(pageDebugUrl)) {
    throw new EnvError('RECORDER_PAGE_DEBUG_URL must be the browser\'s DevTools endpoint on loopback, like http://127.0.0.1:9222');
  }
  if (!key.endsWith('.mp4')) throw new EnvError('RECORDING_FILE_NAME must end in .mp4 (its segments go under the name without it)');
  const segmentDir = (env.RECORDER_SEGMENT_DIR ?? '').trim() || null;

  return {
    taskType,
    bucket,
    key,
    segmentSeconds,
    maxMinutes,
    stopDeadlineSeconds,
    drainSeconds,
    s3TimeoutSeconds,
    maxBacklogBytes,
    joinTimeoutSeconds,
    endGraceSeconds,
    pageDebugUrl,
    segmentDir,
    width,
    height,
    audioInput,
    videoBitrate,
    display,
    region,
    endpoint,
    // A custom endpoint is the local cloud (moto on 127.0.0.1): virtual-host addressing would put
    // the bucket in the host name, which does not resolve there.
    forcePathStyle: endpoint !== null,
  };
}

function required(env, name) {
  const value = (env[name] ?? '').trim();
  if (!value) throw new EnvError(`${name} is not set`);
  return value;
}

/** A number within [min, max] (whole if asked), or the fallback when the variable is unset or blank. */
function number(env, name, fallback, { min, max, whole = false }) {
  const raw = (env[name] ?? '').trim();
  if (raw === '') return fallback;
  const pattern = whole ? /^[0-9]+$/ : /^[0-9]+(\.[0-9]+)?$/;
  const value = Number(raw);
  if (!pattern.test(raw) || value < min || value > max) {
    throw new EnvError(`${name} must be a ${whole ? 'whole ' : ''}number from ${min} to ${max}`);
  }
  return value;
}

function dimension(env, name, fallback) {
  const raw = (env[name] ?? '').trim();
  if (raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw)) throw new EnvError(`${name} must be a whole number of pixels`);
  const value = Number(raw);
  // yuv420p (what players expect of H.264) halves the chroma planes: both sides must be even.
  if (value < 16 || value > 7680 || value % 2 !== 0) throw new EnvError(`${name} must be an even number from 16 to 7680`);
  return value;
}
