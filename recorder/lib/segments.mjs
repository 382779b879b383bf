// Where a recording's pieces go in S3, and the manifest that lists them (recorder/README.md,
// "Segments"; the sample is contract/manifest.example.json, which get-recording-summary's tests read
// too).
//
//   <prefix>segment-00001.mp4, segment-00002.mp4, …   self-contained fragmented MP4s, in order
//   <prefix>manifest.json                              rewritten after each stored segment and at the exit
//
// where <prefix> is RECORDING_FILE_NAME without `.mp4`, plus `/`. A segment is one object of its
// own, written by one PutObject once ffmpeg has closed it: an S3 fault costs at most that segment,
// and only if S3 stays unreachable until the task must exit.

export const MANIFEST_VERSION = 1;
export const SEGMENT_FILE = /^segment-([0-9]{5,})\.mp4$/;

/** The recording's prefix: its file name without `.mp4`, plus `/`. */
export function recordingPrefix(fileName) {
  return `${fileName.replace(/\.mp4$/, '')}/`;
}

/** ffmpeg's output pattern and the local file name of segment `number` (numbered from 1). */
export const SEGMENT_PATTERN = 'segment-%05d.mp4';
export function segmentFileName(number) {
  return `segment-${String(number).padStart(5, '0')}.mp4`;
}

export function segmentKey(prefix, number) {
  return `${prefix}${segmentFileName(number)}`;
}

export function manifestKey(prefix) {
  return `${prefix}manifest.json`;
}

/** The segment number of a local file name, or null. */
export function segmentNumber(fileName) {
  const match = SEGMENT_FILE.exec(fileName);
  return match ? Number(match[1]) : null;
}

/**
 * The closed segments in ffmpeg's CSV segment list (`-segment_list_type csv`: one line
 * `name,start,end` per segment, written when ffmpeg closes it). A last line without its newline is
 * still being written and is left for the next read.
 */
export function parseSegmentList(text) {
  const segments = [];
  const lines = text.split('\n');
  lines.pop(); // after the last newline: empty, or a line ffmpeg is still writing
  for (const line of lines) {
    const [name, start, end] = line.trim().split(',');
    const number = segmentNumber(name ?? '');
    if (number === null || !Number.isFinite(Number(start)) || !Number.isFinite(Number(end))) continue;
    segments.push({ number, file: name, startSeconds: round(Number(start)), endSeconds: round(Number(end)) });
  }
  return segments;
}

function round(seconds) {
  return Math.round(seconds * 1000) / 1000;
}

/**
 * The manifest object. `stored`: the segments S3 confirmed ({number, key, startSeconds,
 * endSeconds, bytes, storedAt}); `notStored`: those it has not (yet). `state`: `recording` while the
 * bot runs, then `complete` (every segment stored) or `incomplete`.
 */
export function buildManifest({ fileName, startedAt, segmentSeconds, state, stopReason = null, stored, notStored }) {
  const byNumber = (a, b) => a.number - b.number;
  return {
    version: MANIFEST_VERSION,
    recordingFileName: fileName,
    prefix: recordingPrefix(fileName),
    startedAt,
    segmentSeconds,
    state,
    stopReason,
    segments: [...stored].sort(byNumber).map(({ number, key, startSeconds, endSeconds, bytes, storedAt }) => ({
      number,
      key,
      startSeconds,
      endSeconds,
      bytes,
      storedAt,
    })),
    notStored: [...notStored].sort(byNumber).map(({ number, startSeconds, endSeconds, bytes }) => ({
      number,
      startSeconds,
      endSeconds,
      bytes,
    })),
  };
}
