// The recorder's environment contract (spec "Recording"): what the start-recording Lambda's container
// override and the prewarm Lambda send, plus the few knobs of this container.
//
//   TASK_TYPE                 PRE_WARM → exit 0 at once; RECORDING (or unset, as the original) → record;
//                             anything else is refused (a typo must not silently record or not).
//   RECORDING_BUCKET_NAME     S3 bucket
//   RECORDING_FILE_NAME       S3 key (RECORDINGS/YYYY/MM/DD/HH/<meeting>_<recordingId>_<ts>_UTC.mp4)
//   RECORDING_SCREEN_WIDTH    default 1920 } the Xvfb screen, the browser window and the grab size
//   RECORDING_SCREEN_HEIGHT   default 1080 }
//   RECORDING_AUDIO_INPUT     pulse (default: PulseAudio's default source, the null sink's monitor)
//                             | silent (a generated silent track: no PulseAudio, e.g. the tests)
//   RECORDING_VIDEO_BITRATE   default 3000k (as the original); the tests raise it to get several parts
//   DISPLAY                   the X display to grab, default :1 (run.sh's Xvfb)
//   AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL(_S3) (local: moto, path-style addressing)
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

  return {
    taskType,
    bucket,
    key,
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

function dimension(env, name, fallback) {
  const raw = (env[name] ?? '').trim();
  if (raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw)) throw new EnvError(`${name} must be a whole number of pixels`);
  const value = Number(raw);
  // yuv420p (what players expect of H.264) halves the chroma planes: both sides must be even.
  if (value < 16 || value > 7680 || value % 2 !== 0) throw new EnvError(`${name} must be an even number from 16 to 7680`);
  return value;
}
