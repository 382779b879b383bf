// The env contract of the recorder (lib/env.mjs).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { EnvError, parseEnv } from '../../lib/env.mjs';

const RECORDING = {
  TASK_TYPE: 'RECORDING',
  RECORDING_BUCKET_NAME: 'recordings-123456789012-eu-west-2',
  RECORDING_FILE_NAME: 'RECORDINGS/2026/12/04/09/case-1_0d6f1e2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a_20261204T090000_UTC.mp4',
  AWS_REGION: 'eu-west-2',
};

test('PRE_WARM needs nothing else', () => {
  assert.deepEqual(parseEnv({ TASK_TYPE: 'PRE_WARM' }), { taskType: 'PRE_WARM' });
});

test('RECORDING: the defaults are 1920x1080, PulseAudio, 3000k, display :1, virtual-host S3, 5-minute segments, 3 hours at most', () => {
  assert.deepEqual(parseEnv(RECORDING), {
    taskType: 'RECORDING',
    bucket: RECORDING.RECORDING_BUCKET_NAME,
    key: RECORDING.RECORDING_FILE_NAME,
    segmentSeconds: 300,
    maxMinutes: 180,
    stopDeadlineSeconds: 110,
    drainSeconds: 600,
    s3TimeoutSeconds: 30,
    maxBacklogBytes: 4096 * 1024 * 1024,
    joinTimeoutSeconds: 180,
    endGraceSeconds: 10,
    pageDebugUrl: null,
    segmentDir: null,
    width: 1920,
    height: 1080,
    audioInput: 'pulse',
    videoBitrate: '3000k',
    display: ':1',
    region: 'eu-west-2',
    endpoint: null,
    forcePathStyle: false,
  });
});

test("after SIGTERM the recorder is gone before ECS's stopTimeout (120 s): its deadline plus the final manifest and margin", () => {
  // record.mjs: the hard exit comes at the deadline + 3 s (final manifest) + 2 s.
  assert.ok(parseEnv(RECORDING).stopDeadlineSeconds + 3 + 2 < 120);
  assert.throws(() => parseEnv({ ...RECORDING, RECORDER_STOP_DEADLINE_SECONDS: '116' }), /RECORDER_STOP_DEADLINE_SECONDS must be a number from 5 to 115/);
});

test('the knobs: segment length, fractional minutes, the page watch on loopback only', () => {
  const config = parseEnv({
    ...RECORDING,
    RECORDING_SEGMENT_SECONDS: '2',
    RECORDING_MAX_MINUTES: '0.5',
    RECORDER_PAGE_DEBUG_URL: 'http://127.0.0.1:9222',
    RECORDER_SEGMENT_DIR: '/data/segments',
    RECORDER_MAX_BACKLOG_MB: '10',
  });
  assert.equal(config.segmentSeconds, 2);
  assert.equal(config.maxMinutes, 0.5);
  assert.equal(config.pageDebugUrl, 'http://127.0.0.1:9222');
  assert.equal(config.segmentDir, '/data/segments');
  assert.equal(config.maxBacklogBytes, 10 * 1024 * 1024);
});

test('an unset TASK_TYPE records, as the original did', () => {
  const { TASK_TYPE, ...rest } = RECORDING;
  assert.equal(parseEnv(rest).taskType, 'RECORDING');
  assert.equal(parseEnv({ ...rest, TASK_TYPE: '' }).taskType, 'RECORDING');
});

test('the local cloud: AWS_ENDPOINT_URL means path-style addressing; AWS_DEFAULT_REGION is a fallback', () => {
  const { AWS_REGION, ...rest } = RECORDING;
  const config = parseEnv({
    ...rest,
    AWS_DEFAULT_REGION: 'eu-west-1',
    AWS_ENDPOINT_URL: 'http://127.0.0.1:5000',
    RECORDING_SCREEN_WIDTH: '320',
    RECORDING_SCREEN_HEIGHT: '240',
    RECORDING_AUDIO_INPUT: 'silent',
    RECORDING_VIDEO_BITRATE: '16000k',
    DISPLAY: ':42',
  });
  assert.equal(config.region, 'eu-west-1');
  assert.equal(config.endpoint, 'http://127.0.0.1:5000');
  assert.equal(config.forcePathStyle, true);
  assert.equal(config.width, 320);
  assert.equal(config.height, 240);
  assert.equal(config.audioInput, 'silent');
  assert.equal(config.videoBitrate, '16000k');
  assert.equal(config.display, ':42');
  assert.equal(parseEnv({ ...RECORDING, AWS_ENDPOINT_URL_S3: 'http://localhost:4566' }).endpoint, 'http://localhost:4566');
});

test('what is wrong is named', () => {
  const cases = [
    [{ TASK_TYPE: 'RECORD' }, /TASK_TYPE must be PRE_WARM or RECORDING/],
    [{ RECORDING_BUCKET_NAME: '' }, /RECORDING_BUCKET_NAME is not set/],
    [{ RECORDING_FILE_NAME: undefined }, /RECORDING_FILE_NAME is not set/],
    [{ RECORDING_FILE_NAME: '/RECORDINGS/x.mp4' }, /without a leading \//],
    [{ RECORDING_SCREEN_WIDTH: 'wide' }, /RECORDING_SCREEN_WIDTH must be a whole number/],
    [{ RECORDING_SCREEN_HEIGHT: '1081' }, /RECORDING_SCREEN_HEIGHT must be an even number/],
    [{ RECORDING_SCREEN_WIDTH: '8' }, /RECORDING_SCREEN_WIDTH must be an even number/],
    [{ RECORDING_AUDIO_INPUT: 'alsa' }, /RECORDING_AUDIO_INPUT must be one of pulse, silent/],
    [{ RECORDING_VIDEO_BITRATE: '3M' }, /RECORDING_VIDEO_BITRATE/],
    [{ DISPLAY: 'one' }, /DISPLAY is not an X display/],
    [{ AWS_REGION: '' }, /AWS_REGION \(or AWS_DEFAULT_REGION\) is not set/],
    [{ RECORDING_FILE_NAME: 'RECORDINGS/x.webm' }, /RECORDING_FILE_NAME must end in \.mp4/],
    [{ RECORDING_SEGMENT_SECONDS: '2.5' }, /RECORDING_SEGMENT_SECONDS must be a whole number from 1 to 1800/],
    [{ RECORDING_SEGMENT_SECONDS: '0' }, /RECORDING_SEGMENT_SECONDS/],
    [{ RECORDING_SEGMENT_SECONDS: '1801' }, /RECORDING_SEGMENT_SECONDS/],
    [{ RECORDING_MAX_MINUTES: '-1' }, /RECORDING_MAX_MINUTES must be a number from 0.01 to 1440/],
    [{ RECORDING_MAX_MINUTES: '1441' }, /RECORDING_MAX_MINUTES/],
    [{ RECORDER_PAGE_DEBUG_URL: 'http://10.0.0.5:9222' }, /RECORDER_PAGE_DEBUG_URL must be the browser's DevTools endpoint on loopback/],
    [{ RECORDER_S3_TIMEOUT_SECONDS: 'soon' }, /RECORDER_S3_TIMEOUT_SECONDS/],
  ];
  for (const [change, expected] of cases) {
    const env = { ...RECORDING, ...change };
    for (const [name, value] of Object.entries(change)) if (value === undefined) delete env[name];
    assert.throws(() => parseEnv(env), (error) => error instanceof EnvError && expected.test(error.message), JSON.stringify(change));
  }
});
