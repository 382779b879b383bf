// ffmpeg's command line (lib/ffmpeg-args.mjs) for both audio inputs.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseEnv } from '../../lib/env.mjs';
import { CAPTURE_QUEUE_FRAMES, captureQueueBytes, ffmpegArgs } from '../../lib/ffmpeg-args.mjs';

const base = {
  RECORDING_BUCKET_NAME: 'b',
  RECORDING_FILE_NAME: 'RECORDINGS/2026/12/04/09/k.mp4',
  AWS_REGION: 'eu-west-2',
};

/** The value after `flag` (the first occurrence at or after `from`). */
function after(args, flag, from = 0) {
  const index = args.indexOf(flag, from);
  assert.notEqual(index, -1, `${flag} missing`);
  return args[index + 1];
}

/** The input options: each -f … -i … group, in order. */
function inputs(args) {
  const groups = [];
  let start = 0;
  for (let i = 0; i < args.length; i += 1) {
    if (args[i] === '-i') {
      groups.push(args.slice(start, i + 2));
      start = i + 2;
    }
  }
  return groups;
}

test('pulse (the default): the display at 30 fps without cursor, PulseAudio default source', () => {
  const args = ffmpegArgs(parseEnv(base), '/seg');
  const [video, audio, ...more] = inputs(args);
  assert.equal(more.length, 0);
  assert.equal(after(video, '-f'), 'x11grab');
  assert.equal(after(video, '-framerate'), '30');
  assert.equal(after(video, '-video_size'), '1920x1080');
  assert.equal(after(video, '-draw_mouse'), '0');
  assert.equal(after(video, '-i'), ':1+0,0');
  assert.equal(after(audio, '-f'), 'pulse');
  assert.equal(after(audio, '-i'), 'default');
  assert.equal(after(audio, '-channels'), '2');
  assert.equal(after(args, '-af'), 'adelay=delays=250:all=1,aresample=async=1');
});

test('silent: a generated 44.1 kHz stereo silence instead of PulseAudio', () => {
  const args = ffmpegArgs(parseEnv({ ...base, RECORDING_AUDIO_INPUT: 'silent', DISPLAY: ':99', RECORDING_SCREEN_WIDTH: '320', RECORDING_SCREEN_HEIGHT: '240' }), '/seg');
  const [video, audio] = inputs(args);
  assert.equal(after(video, '-video_size'), '320x240');
  assert.equal(after(video, '-i'), ':99+0,0');
  assert.deepEqual(audio, ['-f', 'lavfi', '-i', 'anullsrc=r=44100:cl=stereo']);
  assert.ok(!args.includes('pulse'));
  assert.equal(after(args, '-af'), 'aresample=async=1');
});

test('the encoding: H.264 main yuv420p ~3000k GOP 60, AAC 160k 44.1 kHz stereo, fragmented MP4 segments on disk', () => {
  for (const audio of ['pulse', 'silent']) {
    const args = ffmpegArgs(parseEnv({ ...base, RECORDING_AUDIO_INPUT: audio }), '/var/seg');
    assert.equal(after(args, '-c:v'), 'libx264');
    assert.equal(after(args, '-profile:v'), 'main');
    assert.ok(['veryfast', 'fast'].includes(after(args, '-preset')));
    assert.equal(after(args, '-pix_fmt'), 'yuv420p');
    assert.equal(after(args, '-b:v'), '3000k');
    assert.equal(after(args, '-maxrate'), '3000k');
    assert.equal(after(args, '-g'), '60');
    assert.equal(after(args, '-c:a'), 'aac');
    assert.equal(after(args, '-b:a'), '160k');
    assert.equal(after(args, '-ar'), '44100');
    assert.equal(after(args, '-ac'), '2');
    // Segments of RECORDING_SEGMENT_SECONDS (300 by default), each starting at 0, listed in a CSV as
    // they close, each a fragmented MP4 flushed at least every second.
    assert.equal(after(args, '-f', args.indexOf('-ac')), 'segment');
    assert.equal(after(args, '-segment_time'), '300');
    assert.equal(after(args, '-segment_format'), 'mp4');
    assert.equal(
      after(args, '-segment_format_options'),
      'movflags=frag_keyframe+empty_moov+default_base_moof:frag_duration=1000000:flush_packets=1',
    );
    assert.equal(after(args, '-reset_timestamps'), '1');
    assert.equal(after(args, '-segment_start_number'), '1');
    assert.equal(after(args, '-segment_list'), '/var/seg/segments.csv');
    assert.equal(after(args, '-segment_list_type'), 'csv');
    assert.equal(args.at(-1), '/var/seg/segment-%05d.mp4');
    // Both inputs mapped: one video and one audio stream, whatever ffmpeg's defaults.
    assert.deepEqual([after(args, '-map'), after(args, '-map', args.indexOf('-map') + 1)], ['0:v:0', '1:a:0']);
  }
  assert.equal(after(ffmpegArgs(parseEnv({ ...base, RECORDING_VIDEO_BITRATE: '16000k' }), '/seg'), '-bufsize'), '32000k');
  assert.equal(after(ffmpegArgs(parseEnv({ ...base, RECORDING_SEGMENT_SECONDS: '2' }), '/seg'), '-segment_time'), '2');
});

test("the grab's queue is bounded: 32 frames, 253 MiB at 1080p (an 8 GiB task keeps its memory)", () => {
  const args = ffmpegArgs(parseEnv(base), '/seg');
  const [video] = inputs(args);
  assert.equal(after(video, '-thread_queue_size'), String(CAPTURE_QUEUE_FRAMES));
  assert.equal(CAPTURE_QUEUE_FRAMES, 32);
  assert.equal(Math.round(captureQueueBytes(1920, 1080) / 1024 / 1024), 253);
});
