// ffmpeg's command line for one recording: the X display plus an audio source, encoded to H.264/AAC
// in fragmented MP4 on stdout (record.mjs streams stdout to S3).
//
// The settings are the original container's (§6 of the reference): x11grab at 30 fps with the cursor
// hidden, PulseAudio's default source in stereo with a 250 ms delay (it compensates the capture
// latency of the browser's audio path against the grab), libx264 main / yuv420p at 3000k with a GOP of
// 60 (a keyframe every 2 s), AAC 160k 44.1 kHz stereo.
//
// Why fragmented MP4: stdout is a pipe, so ffmpeg cannot seek back to write a `moov` at the end as a
// plain MP4 needs. `empty_moov` writes the header up front and `frag_keyframe` closes a fragment
// (moof+mdat) at each keyframe, so what reached S3 is playable up to the last complete fragment;
// `default_base_moof` makes the fragments self-contained (what browsers' MSE and most players expect).
// On a clean stop (`q` on stdin, or SIGINT) ffmpeg flushes the encoder and writes the last fragment.

export const FRAME_RATE = 30;
export const GOP = 60;

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

/** The full argument list (without the `ffmpeg` itself) for a parsed configuration (lib/env.mjs). */
export function ffmpegArgs({ display, width, height, audioInput, videoBitrate = '3000k' }) {
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
    '-thread_queue_size', '1024',
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
    '-movflags', 'frag_keyframe+empty_moov+default_base_moof',
    '-f', 'mp4',
    'pipe:1',
  ];
}
