// ffmpeg's command line for one recording: the X display plus an audio source, encoded to H.264/AAC
// into MP4 segments on local disk (record.mjs uploads each one once ffmpeg has closed it).
//
// The settings are the original container's (§6 of the reference): x11grab at 30 fps with the cursor
// hidden, PulseAudio's default source in stereo with a 250 ms delay (it compensates the capture
// latency of the browser's audio path against the grab), libx264 main / yuv420p at 3000k with a GOP of
// 60 (a keyframe every 2 s), AAC 160k 44.1 kHz stereo.
//
// Segments: the segment muxer cuts at the first keyframe after each `segmentSeconds`, restarts the
// timestamps at 0 (each file plays on its own) and appends `name,start,end` to segments.csv when it
// closes a file: that line is record.mjs's signal that the segment is whole.
//
// Why fragmented MP4 segments: `empty_moov` writes the header up front, a fragment (moof+mdat) is
// closed at each keyframe and at least every second (`frag_duration`), and `flush_packets` puts each
// on disk at once, so a segment that ffmpeg could not close (killed) is still playable up to its last
// second and is uploaded too; `default_base_moof` makes the fragments self-contained (what browsers
// and most players expect). On a clean stop (`q` on stdin, or SIGINT)
// ffmpeg flushes the encoder and closes the last segment.
//
// Memory: ffmpeg writes to disk, which never waits for S3, and the grab's queue is bounded
// (CAPTURE_QUEUE_FRAMES raw frames, captureQueueBytes): when the encoder falls behind, x11grab drops
// frames instead of queueing the screen without end (1024 frames of 1080p were 8 GiB).

import { join } from 'node:path';

import { SEGMENT_PATTERN } from './segments.mjs';

export const FRAME_RATE = 30;
export const GOP = 60;
/** Raw frames x11grab may queue ahead of the encoder (about one second). */
export const CAPTURE_QUEUE_FRAMES = 32;
/** The most that queue holds: 4 bytes a pixel (x11grab's bgr0). */
export function captureQueueBytes(width, height) {
  return CAPTURE_QUEUE_FRAMES * width * height * 4;
}
export const SEGMENT_LIST = 'segments.csv';

/** The audio input's arguments: PulseAudio's default source, or a generated silent stereo track. */
export function audioInputArgs(audioInput) {
  switch (audioInput) {
    case 'pulse':
      return ['-thread_queue_size', '1024', '-f', 'pulse', '-channels', '2', '-sample_rate', '44100', '-i', 'default'];
    case 'silent':
      return ['-f', 'lavfi', '-i', 'anullsrc=r=44100:cl=stereo'];
    default:
      throw new Error(`unknown audio input ${audioInput}`);
  }
}

/**
 * The full argument list (without the `ffmpeg` itself) for a parsed configuration (lib/env.mjs),
 * writing segments of `segmentSeconds` into `segmentDir`.
 */
export function ffmpegArgs({ display, width, height, audioInput, videoBitrate = '3000k', segmentSeconds = 300 }, segmentDir) {
  const kbps = Number.parseInt(videoBitrate, 10);
  // The 250 ms delay is for the live PulseAudio path only; the silent track needs no alignment.
  // aresample=async=1 stretches or pads the audio to its timestamps so that A/V stay in sync if the
  // capture drops or bunches samples.
  const audioFilter = audioInput === 'pulse' ? 'adelay=delays=250:all=1,aresample=async=1' : 'aresample=async=1';
  return [
    '-hide_banner',
    '-loglevel', 'warning',
    '-nostats',
    // Video: the whole screen from its top-left corner, without the mouse pointer.
    '-thread_queue_size', String(CAPTURE_QUEUE_FRAMES),
    '-f', 'x11grab',
    '-draw_mouse', '0',
    '-framerate', String(FRAME_RATE),
    '-video_size', `${width}x${height}`,
    '-i', `${display}+0,0`,
    ...audioInputArgs(audioInput),
    '-map', '0:v:0',
    '-map', '1:a:0',
    '-c:v', 'libx264',
    '-profile:v', 'main',
    '-preset', 'veryfast',
    '-pix_fmt', 'yuv420p',
    // Average 3000k, capped at the same rate over a 2 s buffer (the original's "CBR 3000").
    '-b:v', `${kbps}k`,
    '-maxrate', `${kbps}k`,
    '-bufsize', `${kbps * 2}k`,
    '-g', String(GOP),
    '-keyint_min', String(GOP),
    '-sc_threshold', '0',
    '-af', audioFilter,
    '-c:a', 'aac',
    '-b:a', '160k',
    '-ar', '44100',
    '-ac', '2',
    '-f', 'segment',
    '-segment_time', String(segmentSeconds),
    '-segment_format', 'mp4',
    '-segment_format_options', 'movflags=frag_keyframe+empty_moov+default_base_moof:frag_duration=1000000:flush_packets=1',
    '-reset_timestamps', '1',
    '-segment_start_number', '1',
    '-segment_list', join(segmentDir, SEGMENT_LIST),
    '-segment_list_type', 'csv',
    join(segmentDir, SEGMENT_PATTERN),
  ];
}
