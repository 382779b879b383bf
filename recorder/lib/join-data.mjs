// The join data of the recording bot: how CHIME_MEETING_DATA and CHIME_ATTENDEE_DATA travel from the
// task's environment to the meeting page, and how the page reads them back.
//
// Shared by Node (run.sh builds the page URL with lib/page-url.mjs; the unit tests) and the browser
// (page/src/main.js, bundled by esbuild): plain ES2020, only atob/btoa, TextEncoder/TextDecoder and
// URLSearchParams, which both have.
//
// The contract (spec "Recording"; the original's §5.6): each variable is the *standard* base64
// (alphabet `+/`, `=` padding) of the bare PascalCase JSON of the Chime `Meeting` and of the bot's
// `Attendee` `{ExternalUserId, AttendeeId, JoinToken}`, ASCII only. The original spliced them into the
// query without URL-encoding, so a `+` became a space after URLSearchParams; here they are encoded
// with encodeURIComponent (and the decoder still repairs a space back into `+`, which is safe since
// base64 never contains a space, so an unencoded URL from an older launcher keeps working).

export const MEETING_PARAM = 'chimeMeetingData';
export const ATTENDEE_PARAM = 'chimeAttendeeData';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The query string (without `?`) carrying the two base64 values, each URL-encoded. */
export function joinQuery(meetingData, attendeeData) {
  return `${MEETING_PARAM}=${encodeURIComponent(meetingData)}&${ATTENDEE_PARAM}=${encodeURIComponent(attendeeData)}`;
}

/** `base` (the page's URL, e.g. file:///recorder/page/index.html) with the join query. */
export function pageUrl(base, meetingData, attendeeData) {
  return `${base}?${joinQuery(meetingData, attendeeData)}`;
}

/**
 * Standard base64 of the JSON of `value`, ASCII only (non-ASCII characters \u-escaped), exactly as the
 * start-recording Lambda encodes it. Used by the tests to make real-looking variables.
 */
export function encodeJoinValue(value) {
  const json = JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return btoa(json);
}

/**
 * Decodes one variable: base64 → bytes → UTF-8 text → JSON object. `name` is only for the error
 * message, which never quotes the value (the attendee's carries the join token).
 */
export function decodeJoinValue(encoded, name) {
  if (typeof encoded !== 'string' || encoded.length === 0) {
    throw new Error(`${name} is missing`);
  }
  // A `+` that reached us unencoded has become a space (see above): put it back.
  const b64 = encoded.replace(/ /g, '+');
  if (!BASE64.test(b64) || b64.length % 4 !== 0) {
    throw new Error(`${name} is not standard base64`);
  }
  const binary = atob(b64);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${name} is not UTF-8 text`);
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${name} is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${name} is not a JSON object`);
  }
  return value;
}

/**
 * Reads and checks both variables from a query string (`location.search`, with or without `?`).
 * Returns `{meeting, attendee}`, the PascalCase objects as the Lambda sent them. A parent wrapper
 * (`{Meeting: …}` / `{Attendee: …}`) is not the contract, but the Chime SDK accepts it, so it is
 * unwrapped here too rather than refused.
 */
export function readJoinData(search) {
  const params = new URLSearchParams(search);
  let meeting = decodeJoinValue(params.get(MEETING_PARAM), MEETING_PARAM);
  let attendee = decodeJoinValue(params.get(ATTENDEE_PARAM), ATTENDEE_PARAM);
  if (meeting.Meeting && typeof meeting.Meeting === 'object') meeting = meeting.Meeting;
  if (attendee.Attendee && typeof attendee.Attendee === 'object') attendee = attendee.Attendee;
  checkMeeting(meeting);
  checkAttendee(attendee);
  return { meeting, attendee };
}

function checkMeeting(meeting) {
  for (const key of ['MeetingId', 'ExternalMeetingId']) {
    if (typeof meeting[key] !== 'string' || meeting[key] === '') throw new Error(`${MEETING_PARAM}: ${key} is missing`);
  }
  const placement = meeting.MediaPlacement;
  if (!placement || typeof placement !== 'object') throw new Error(`${MEETING_PARAM}: MediaPlacement is missing`);
  for (const key of ['AudioHostUrl', 'SignalingUrl', 'TurnControlUrl']) {
    if (typeof placement[key] !== 'string' || placement[key] === '') {
      throw new Error(`${MEETING_PARAM}: MediaPlacement.${key} is missing`);
    }
  }
}

function checkAttendee(attendee) {
  for (const key of ['AttendeeId', 'ExternalUserId', 'JoinToken']) {
    if (typeof attendee[key] !== 'string' || attendee[key] === '') throw new Error(`${ATTENDEE_PARAM}: ${key} is missing`);
  }
}

/**
 * What the page exposes on `window.recorderSession`: the configuration the Chime SDK built, never the
 * join token itself (only whether there is one).
 */
export function sessionSummary(configuration, meeting) {
  const credentials = configuration.credentials ?? {};
  const urls = configuration.urls ?? {};
  return {
    meetingId: configuration.meetingId ?? null,
    externalMeetingId: configuration.externalMeetingId ?? null,
    attendeeId: credentials.attendeeId ?? null,
    externalUserId: credentials.externalUserId ?? null,
    hasJoinToken: typeof credentials.joinToken === 'string' && credentials.joinToken.length > 0,
    // The SDK keeps no MediaRegion in its configuration: it comes from the Meeting object.
    mediaRegion: meeting?.MediaRegion ?? null,
    signalingUrl: urls.signalingURL ?? null,
    audioHostUrl: urls.audioHostURL ?? null,
  };
}
