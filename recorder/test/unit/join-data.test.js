// The two join variables' trip: the task's env → run.sh's URL (lib/page-url.mjs) → the page's query
// decoding (lib/join-data.mjs, the same module the page bundles).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

import {
  ATTENDEE_PARAM,
  MEETING_PARAM,
  decodeJoinValue,
  encodeJoinValue,
  joinQuery,
  pageUrl,
  readJoinData,
  sessionSummary,
} from '../../lib/join-data.mjs';
import { pageUrlFromEnv } from '../../lib/page-url.mjs';
import { JOIN_TOKEN, attendee, meeting, meetingWithPlusAndSlash } from '../support/fixtures.js';
import { RECORDER } from '../support/harness.js';

test('a base64 value with + and / survives the query: encoded, read back byte for byte', () => {
  const { value, encoded } = meetingWithPlusAndSlash();
  assert.match(encoded, /\+/);
  assert.match(encoded, /\//);
  const query = joinQuery(encoded, encodeJoinValue(attendee()));
  // Nothing of base64's own alphabet is left raw in the query, where + would mean a space.
  assert.doesNotMatch(query.split('&')[0].split('=').slice(1).join('='), /[+/=]/);
  const params = new URLSearchParams(query);
  assert.equal(params.get(MEETING_PARAM), encoded);
  const read = readJoinData(`?${query}`);
  assert.deepEqual(read.meeting, value);
  assert.deepEqual(read.attendee, attendee());
});

test('the original unencoded query (a + turned into a space) is still read correctly', () => {
  const { value, encoded } = meetingWithPlusAndSlash();
  const legacy = `${MEETING_PARAM}=${encoded}&${ATTENDEE_PARAM}=${encodeJoinValue(attendee())}`;
  assert.match(new URLSearchParams(legacy).get(MEETING_PARAM), / /);
  assert.deepEqual(readJoinData(legacy).meeting, value);
});

test('the encoding is the Lambda\'s: standard base64 of the bare PascalCase JSON, ASCII only', () => {
  const value = meeting({ ExternalMeetingId: 'dossier-é-✓' });
  const encoded = encodeJoinValue(value);
  assert.match(encoded, /^[A-Za-z0-9+/]+={0,2}$/);
  const json = Buffer.from(encoded, 'base64').toString('latin1');
  assert.match(json, /^[\x20-\x7e]+$/, 'ASCII only');
  assert.ok(json.includes('"ExternalMeetingId":"dossier-\\u00e9-\\u2713"'));
  assert.ok(json.startsWith('{"MeetingId":'), 'not wrapped in a parent object');
  // Non-ASCII sent raw as UTF-8 (not the contract, but harmless) decodes too.
  const utf8 = Buffer.from(JSON.stringify(value), 'utf8').toString('base64');
  assert.equal(decodeJoinValue(utf8, 'x').ExternalMeetingId, 'dossier-é-✓');
  assert.equal(decodeJoinValue(encoded, 'x').ExternalMeetingId, 'dossier-é-✓');
});

test('a parent wrapper ({Meeting}, {Attendee}) is unwrapped, as the Chime SDK would', () => {
  const read = readJoinData(joinQuery(encodeJoinValue({ Meeting: meeting() }), encodeJoinValue({ Attendee: attendee() })));
  assert.equal(read.meeting.MeetingId, meeting().MeetingId);
  assert.equal(read.attendee.AttendeeId, attendee().AttendeeId);
});

test('bad join data is refused naming the parameter, never quoting the value', () => {
  const good = encodeJoinValue(meeting());
  const cases = [
    [joinQuery(good, ''), /chimeAttendeeData is missing/],
    [`${MEETING_PARAM}=${encodeURIComponent(good)}`, /chimeAttendeeData is missing/],
    [joinQuery('not base64!', encodeJoinValue(attendee())), /chimeMeetingData is not standard base64/],
    [joinQuery(good, 'YWJj'), /chimeAttendeeData is not JSON/],
    [joinQuery(good, btoa('[1,2]')), /chimeAttendeeData is not a JSON object/],
    [joinQuery(good, btoa('\xff\xfe{}')), /chimeAttendeeData is not UTF-8 text/],
    [joinQuery(good, encodeJoinValue(attendee({ JoinToken: '' }))), /chimeAttendeeData: JoinToken is missing/],
    [joinQuery(encodeJoinValue(meeting({ MediaPlacement: undefined })), encodeJoinValue(attendee())), /MediaPlacement is missing/],
    [
      joinQuery(encodeJoinValue(meeting({ MediaPlacement: { ...meeting().MediaPlacement, SignalingUrl: '' } })), encodeJoinValue(attendee())),
      /MediaPlacement\.SignalingUrl is missing/,
    ],
  ];
  for (const [query, expected] of cases) {
    assert.throws(() => readJoinData(query), expected, query);
  }
  try {
    readJoinData(joinQuery(good, encodeJoinValue({ AttendeeId: 'a', ExternalUserId: 'b', JoinToken: 5 })));
  } catch (error) {
    assert.doesNotMatch(error.message, new RegExp(JOIN_TOKEN));
  }
});

test('the session summary has the ids and whether there is a join token, never the token', () => {
  const configuration = {
    meetingId: 'm',
    externalMeetingId: 'case-1',
    credentials: { attendeeId: 'a', externalUserId: 'u', joinToken: JOIN_TOKEN },
    urls: { signalingURL: 'wss://s', audioHostURL: 'h:3478' },
  };
  const summary = sessionSummary(configuration, { MediaRegion: 'eu-central-1' });
  assert.deepEqual(summary, {
    meetingId: 'm',
    externalMeetingId: 'case-1',
    attendeeId: 'a',
    externalUserId: 'u',
    hasJoinToken: true,
    mediaRegion: 'eu-central-1',
    signalingUrl: 'wss://s',
    audioHostUrl: 'h:3478',
  });
  assert.doesNotMatch(JSON.stringify(summary), new RegExp(JOIN_TOKEN));
});

test('page-url.mjs: run.sh\'s URL is the page file with both variables URL-encoded', () => {
  const { value, encoded } = meetingWithPlusAndSlash();
  const env = { CHIME_MEETING_DATA: encoded, CHIME_ATTENDEE_DATA: encodeJoinValue(attendee()) };
  const url = pageUrlFromEnv(env, 'file:///recorder/page/index.html');
  assert.ok(url.startsWith('file:///recorder/page/index.html?chimeMeetingData='));
  assert.deepEqual(readJoinData(new URL(url).search).meeting, value);
  assert.equal(url, pageUrl('file:///recorder/page/index.html', env.CHIME_MEETING_DATA, env.CHIME_ATTENDEE_DATA));

  // As run.sh calls it: the default base is the page beside lib/.
  const script = join(RECORDER, 'lib', 'page-url.mjs');
  const run = spawnSync(process.execPath, [script], { env: { ...env, PATH: process.env.PATH }, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim().split('?')[0], `file://${join(RECORDER, 'page', 'index.html')}`);
  assert.deepEqual(readJoinData(new URL(run.stdout.trim()).search).attendee, attendee());
});

test('page-url.mjs refuses broken variables with exit 2, naming the variable, not quoting it', () => {
  const script = join(RECORDER, 'lib', 'page-url.mjs');
  const env = {
    PATH: process.env.PATH,
    CHIME_MEETING_DATA: encodeJoinValue(meeting()),
    CHIME_ATTENDEE_DATA: encodeJoinValue({ AttendeeId: 'a', JoinToken: JOIN_TOKEN }),
  };
  const run = spawnSync(process.execPath, [script], { env, encoding: 'utf8' });
  assert.equal(run.status, 2);
  assert.equal(run.stdout, '');
  assert.match(run.stderr, /CHIME_ATTENDEE_DATA: ExternalUserId is missing/);
  assert.doesNotMatch(run.stderr, new RegExp(JOIN_TOKEN));
  assert.doesNotMatch(run.stderr, new RegExp(env.CHIME_ATTENDEE_DATA.slice(0, 20).replace(/[+/]/g, '.')));

  const missing = spawnSync(process.execPath, [script], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /CHIME_MEETING_DATA is missing/);
});
