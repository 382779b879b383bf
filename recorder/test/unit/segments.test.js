// The segment layout and the manifest (lib/segments.mjs), held to contract/manifest.example.json,
// which get-recording-summary's tests read too.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { buildManifest, manifestKey, parseSegmentList, recordingPrefix, segmentFileName, segmentKey, segmentNumber } from '../../lib/segments.mjs';
import { RECORDER } from '../support/harness.js';
import { endReasonFor } from '../../lib/session-end.mjs';

const EXAMPLE = JSON.parse(readFileSync(join(RECORDER, 'contract', 'manifest.example.json'), 'utf8'));

test('the prefix is the file name without .mp4; segments and the manifest go under it', () => {
  const prefix = recordingPrefix(EXAMPLE.recordingFileName);
  assert.equal(prefix, EXAMPLE.prefix);
  assert.equal(segmentKey(prefix, 1), EXAMPLE.segments[0].key);
  assert.equal(segmentKey(prefix, 3), EXAMPLE.segments[1].key);
  assert.equal(manifestKey(prefix), `${prefix}manifest.json`);
  assert.equal(segmentFileName(12), 'segment-00012.mp4');
  assert.equal(segmentNumber('segment-00012.mp4'), 12);
  assert.equal(segmentNumber('segment-100000.mp4'), 100000);
  assert.equal(segmentNumber('segments.csv'), null);
  assert.equal(segmentNumber('segment-1.mp4'), null);
});

test("ffmpeg's segment list: closed segments only; a line still being written waits", () => {
  const text = 'segment-00001.mp4,0.000000,2.066667\nsegment-00002.mp4,2.066667,4.066667\nsegment-00003.mp4,4.06';
  assert.deepEqual(parseSegmentList(text), [
    { number: 1, file: 'segment-00001.mp4', startSeconds: 0, endSeconds: 2.067 },
    { number: 2, file: 'segment-00002.mp4', startSeconds: 2.067, endSeconds: 4.067 },
  ]);
  assert.deepEqual(parseSegmentList(`${text}6667,6.066667\n`).map((s) => s.number), [1, 2, 3]);
  assert.deepEqual(parseSegmentList(''), []);
  assert.deepEqual(parseSegmentList('garbage\nsegment-00001.mp4,x,y\n'), []);
});

test('the manifest has exactly the shape of the contract sample, segments sorted by number', () => {
  const manifest = buildManifest({
    fileName: EXAMPLE.recordingFileName,
    startedAt: EXAMPLE.startedAt,
    segmentSeconds: EXAMPLE.segmentSeconds,
    state: EXAMPLE.state,
    stopReason: EXAMPLE.stopReason,
    // In a different order, with the uploader's extra fields, which stay out of the manifest.
    stored: [...EXAMPLE.segments].reverse().map((s) => ({ ...s, file: 'x', attempts: 2 })),
    notStored: EXAMPLE.notStored.map((s) => ({ ...s, file: 'y', attempts: 9 })),
  });
  assert.deepEqual(manifest, EXAMPLE);
});

test("the page's stop reasons from the Chime SDK's status codes", () => {
  assert.equal(endReasonFor('MeetingEnded'), 'meeting-ended');
  assert.equal(endReasonFor('TURNCredentialsForbidden'), 'meeting-ended');
  assert.equal(endReasonFor('AudioAttendeeRemoved'), 'attendee-removed');
  assert.equal(endReasonFor('AudioJoinedFromAnotherDevice'), 'joined-elsewhere');
  assert.equal(endReasonFor('Left'), 'left');
  assert.equal(endReasonFor('SignalingBadRequest'), 'session-failed');
});
