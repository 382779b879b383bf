// create-meeting (POST /meeting), Node.js 20 reference (benchmark only; see ../README.md).
// The agent creates a Chime SDK meeting with its attendees and gets back its own join info:
// GetItem (is the id free?), Chime CreateMeetingWithAttendees, then the meeting and attendee items in
// one TransactWriteItems whose meeting put is conditional; if that fails the Chime meeting is deleted.
// The caller is whoever the HTTP API's JWT authorizer verified: its claims are read from the request
// context, the token itself is never parsed here.

import { randomUUID } from 'node:crypto';
import {
  ChimeSDKMeetingsClient,
  CreateMeetingWithAttendeesCommand,
  DeleteMeetingCommand,
} from '@aws-sdk/client-chime-sdk-meetings';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';

/** The Chime SDK media regions, as the service lists them. */
const MEDIA_REGIONS = new Set([
  'af-south-1', 'ap-northeast-1', 'ap-northeast-2', 'ap-south-1', 'ap-southeast-1', 'ap-southeast-2',
  'ca-central-1', 'eu-central-1', 'eu-north-1', 'eu-south-1', 'eu-west-1', 'eu-west-2', 'eu-west-3',
  'sa-east-1', 'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'us-gov-east-1', 'us-gov-west-1',
]);
const MAX_ATTENDEES = 20; // CreateMeetingWithAttendees takes at most this many
const MAX_TEXT = 256; // names and titles
const MEETING_TTL_SECONDS = 45 * 24 * 60 * 60;

// Configuration, read once at cold start; a bad value fails the init, naming the variable.
const TABLE = requiredEnv('VIDEO_TABLE');
const MEDIA_REGION = requiredEnv('CHIME_MEDIA_REGION');
if (!MEDIA_REGIONS.has(MEDIA_REGION)) {
  throw new Error(`environment variable CHIME_MEDIA_REGION is malformed: "${MEDIA_REGION}" is not a Chime SDK media region`);
}
// Chime SDK meetings have control planes in fewer regions than Lambda runs in.
const CONTROL_REGION = process.env.CHIME_CONTROL_REGION?.trim() || undefined;

// Endpoints, region, credentials and retries come from the standard AWS_* variables.
const requestHandler = { connectionTimeout: 1_000, requestTimeout: 3_000, throwOnRequestTimeout: true };
const chime = new ChimeSDKMeetingsClient({ ...(CONTROL_REGION && { region: CONTROL_REGION }), requestHandler });
const dynamodb = DynamoDBDocumentClient.from(new DynamoDBClient({ requestHandler }), {
  marshallOptions: { removeUndefinedValues: true },
});

/** An answer that is not a success: status, UPPER_SNAKE code and a sentence for the caller. */
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}
const badField = (field, problem) => new ApiError(400, 'INVALID_INPUT', `${field}: ${problem}`);
const conflict = () => new ApiError(409, 'CONFLICT', 'a meeting with that externalMeetingId already exists');
/** A dependency failed: the detail goes to the log, not to the caller. */
function dependency(detail) {
  log('ERROR', 'dependency failed', { error: String(detail), kind: 'DependencyError' });
  return new ApiError(502, 'DEPENDENCY_FAILED', 'A service this request depends on failed; try again.');
}
const sdkDetail = (operation, error) => `${operation} failed: ${error.name}: ${error.message}`;

export const handler = async (event, context) => {
  const requestId = context.awsRequestId;
  try {
    const data = await createMeeting(event);
    log('INFO', 'request answered', { status: 200, requestId });
    return respond(200, { success: 'Meeting created', data });
  } catch (error) {
    if (!(error instanceof ApiError)) {
      throw error;
    }
    log('INFO', 'request refused', { status: error.status, code: error.code, requestId });
    return respond(error.status, { message: error.message, code: error.code, requestId });
  }
};

async function createMeeting(event) {
  const claims = event?.requestContext?.authorizer?.jwt?.claims ?? {};
  const claim = (name) => (typeof claims[name] === 'string' && claims[name] !== '' ? claims[name] : undefined);
  const username = claim('cognito:username');
  if (!username) {
    throw new ApiError(403, 'FORBIDDEN', 'the token has no cognito:username claim');
  }
  // The owner's email is informational (shown to colleagues); only a verified one is stored.
  const ownerEmail = claim('email_verified') === 'true' ? claim('email') : undefined;
  const body = jsonBody(event);

  const externalMeetingId = body.externalMeetingId;
  checkExternalId('externalMeetingId', externalMeetingId);
  const title = body.meetingTitle?.trim() || externalMeetingId;
  if ([...title].length > MAX_TEXT) {
    throw badField('meetingTitle', 'longer than 256 characters');
  }
  const requestedRegion = body.meetingRegion?.trim();
  if (requestedRegion && !MEDIA_REGIONS.has(requestedRegion)) {
    throw badField('meetingRegion', 'not a Chime SDK media region');
  }
  const region = requestedRegion || MEDIA_REGION;
  const attendees = planAttendees(body.meetingAttendees, ownerEmail);
  const owner = attendees.find((a) => a.isOwner);

  // A quick answer for the common case, and no Chime meeting created for nothing; the transaction's
  // condition below is what keeps the id unique under races.
  const nowMs = Date.now();
  const now = Math.floor(nowMs / 1000);
  const key = `M#${externalMeetingId}`;
  let existing;
  try {
    ({ Item: existing } = await dynamodb.send(
      new GetCommand({ TableName: TABLE, Key: { pk: key, sk: key }, ConsistentRead: true }),
    ));
  } catch (error) {
    throw dependency(sdkDetail('DynamoDB GetItem', error));
  }
  // DynamoDB deletes expired items lazily: one past its ttl is absent.
  if (existing && !(typeof existing.ttl === 'number' && existing.ttl <= now)) {
    checkStoredMeeting(existing);
    throw conflict();
  }

  let created;
  try {
    created = await chime.send(
      new CreateMeetingWithAttendeesCommand({
        ExternalMeetingId: externalMeetingId,
        ClientRequestToken: randomUUID(),
        MediaRegion: region,
        Attendees: attendees.map((a) => ({ ExternalUserId: a.externalUserId })),
      }),
    );
  } catch (error) {
    if (error.name === 'NotFoundException') throw dependency('Chime lost the meeting');
    if (error.name === 'BadRequestException') throw badField('meetingAttendees', error.message || 'refused by Chime');
    throw dependency(sdkDetail('Chime CreateMeetingWithAttendees', error));
  }
  if (!created.Meeting) {
    throw dependency('Chime returned no meeting');
  }
  const meeting = meetingJson(created.Meeting);

  let records;
  try {
    records = attendeeRecords(attendees, created);
  } catch (refused) {
    await deleteChimeMeeting(meeting.MeetingId);
    throw refused;
  }

  const createdAt = new Date(nowMs).toISOString();
  const expires = now + MEETING_TTL_SECONDS;
  const meetingItem = {
    pk: key,
    sk: key,
    entityType: 'Meeting',
    externalMeetingId,
    meetingTitle: title,
    ownerUsername: username,
    ownerName: owner.name,
    ownerEmail,
    chimeMeetingId: meeting.MeetingId,
    chimeMeetingData: JSON.stringify(meeting),
    createdAt,
    ttl: expires,
  };
  const attendeeItems = records.map((r) => ({
    pk: key,
    sk: `A#${r.chime.ExternalUserId}`,
    entityType: 'Attendee',
    externalUserId: r.chime.ExternalUserId,
    attendeeName: r.name,
    attendeeEmail: r.email,
    isOwner: r.isOwner,
    attendeeRole: r.isOwner ? 'OWNER' : 'CUSTOMER',
    chimeMeetingId: meeting.MeetingId,
    chimeAttendeeId: r.chime.AttendeeId,
    chimeAttendeeData: JSON.stringify(r.chime),
    createdAt,
    ttl: expires,
  }));
  try {
    await dynamodb.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: TABLE,
              Item: meetingItem,
              // No live meeting has the id (an expired one not yet deleted may be replaced).
              ConditionExpression: 'attribute_not_exists(pk) OR #ttl <= :now',
              ExpressionAttributeNames: { '#ttl': 'ttl' },
              ExpressionAttributeValues: { ':now': now },
            },
          },
          ...attendeeItems.map((Item) => ({ Put: { TableName: TABLE, Item } })),
        ],
      }),
    );
  } catch (error) {
    const raceLost =
      error.name === 'TransactionCanceledException' &&
      (error.CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed' || r.Code === 'TransactionConflict');
    const failure = raceLost ? conflict() : dependency(sdkDetail('DynamoDB TransactWriteItems', error));
    await deleteChimeMeeting(meeting.MeetingId);
    throw failure;
  }
  log('INFO', 'meeting created', { attendees: records.length });

  const ownerRecord = records.find((r) => r.chime.ExternalUserId === owner.externalUserId);
  return { JoinInfo: { Meeting: meeting, Attendee: ownerRecord.chime } };
}

/** Deletes a Chime meeting no item will point at; Chime ends it by itself if this fails. */
async function deleteChimeMeeting(meetingId) {
  try {
    await chime.send(new DeleteMeetingCommand({ MeetingId: meetingId }));
    log('INFO', 'Chime meeting deleted after a failed create');
  } catch (error) {
    log('ERROR', 'could not delete the Chime meeting of a failed create', {
      error: sdkDetail('Chime DeleteMeeting', error),
      chimeMeetingId: meetingId,
    });
  }
}

/**
 * The JSON body, with the types this route takes checked; a missing body or bad JSON is a 400 naming
 * `body`, a field of the wrong type a 400 naming the field.
 */
function jsonBody(event) {
  if (typeof event?.body !== 'string' || event.body === '') {
    throw badField('body', 'a JSON body is required');
  }
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  let body;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw badField('body', error.message);
  }
  if (!isObject(body)) {
    throw badField('body', 'expected a JSON object');
  }
  if (body.externalMeetingId === undefined) {
    throw badField('externalMeetingId', 'missing field `externalMeetingId`');
  }
  expectType('externalMeetingId', body.externalMeetingId, 'string');
  expectType('meetingTitle', body.meetingTitle, 'string', true);
  expectType('meetingRegion', body.meetingRegion, 'string', true);
  if (body.meetingAttendees === undefined) {
    body.meetingAttendees = [];
  } else if (!Array.isArray(body.meetingAttendees)) {
    throw badField('meetingAttendees', 'invalid type, expected a sequence');
  }
  body.meetingAttendees.forEach((attendee, i) => {
    const field = `meetingAttendees[${i}]`;
    if (!isObject(attendee)) {
      throw badField(field, 'invalid type, expected an attendee object');
    }
    expectType(`${field}.isOwner`, attendee.isOwner, 'boolean', true);
    for (const name of ['externalUserId', 'attendeeName', 'name', 'attendeeEmail', 'email']) {
      expectType(`${field}.${name}`, attendee[name], 'string', true);
    }
  });
  return body;
}

function expectType(field, value, type, optional = false) {
  if (optional && (value === undefined || value === null)) return;
  if (typeof value !== type) {
    throw badField(field, `invalid type, expected a ${type}`);
  }
}

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Validates `meetingAttendees`: exactly one owner (email from the token, id generated when absent),
 * a name for everyone, an `externalUserId` for everyone else, no id twice, at most 20. Only these
 * fields reach the items.
 */
function planAttendees(requests, ownerEmail) {
  const noOwner = () => badField('meetingAttendees', 'exactly one attendee must have isOwner: true');
  if (requests.filter((a) => a.isOwner === true).length !== 1) {
    throw noOwner();
  }
  if (requests.length > MAX_ATTENDEES) {
    throw badField('meetingAttendees', 'at most 20 attendees');
  }
  const planned = [];
  requests.forEach((request, i) => {
    const isOwner = request.isOwner === true;
    const field = (name) => `meetingAttendees[${i}].${name}`;
    const name = displayText(field('attendeeName'), request.attendeeName ?? request.name ?? '');
    let externalUserId = request.externalUserId || undefined;
    if (!externalUserId) {
      if (!isOwner) throw badField(field('externalUserId'), 'required for every attendee but the owner');
      externalUserId = randomUUID();
    }
    checkExternalId(field('externalUserId'), externalUserId);
    if (planned.some((p) => p.externalUserId === externalUserId)) {
      throw badField(field('externalUserId'), 'two attendees have the same externalUserId');
    }
    const email = isOwner ? ownerEmail : (request.attendeeEmail ?? request.email)?.trim() || undefined;
    planned.push({ externalUserId, name, email, isOwner });
  });
  return planned;
}

/** A name a person reads: trimmed, 1 to 256 characters. */
function displayText(field, raw) {
  const text = raw.trim();
  const length = [...text].length;
  if (length === 0 || length > MAX_TEXT) {
    throw badField(field, 'must be 1 to 256 characters');
  }
  return text;
}

/** Chime's rules for ExternalMeetingId / ExternalUserId: 2–64 characters of its pattern, no `aws:` prefix. */
const EXTERNAL_ID_CHARACTER = /[-_&@+=,(){}[\]/«».:|'"#a-zA-Z0-9\u00C0-\u00FF \t\n\v\f\r]/u;
function checkExternalId(field, value) {
  const characters = [...value];
  if (characters.length < 2 || characters.length > 64) {
    throw badField(field, 'must be 2 to 64 characters');
  }
  const refused = characters.find((c) => !EXTERNAL_ID_CHARACTER.test(c));
  if (refused !== undefined) {
    throw badField(field, `'${refused}' is not allowed (letters, digits, spaces and -_&@+=,(){}[]/«».:|'"#)`);
  }
  if (value.slice(0, 4).toLowerCase() === 'aws:') {
    throw badField(field, 'must not begin with aws: (reserved by Chime)');
  }
}

/** The live meeting item must be readable: one that is not is our fault (502), not a conflict. */
function checkStoredMeeting(item) {
  const malformed = (name) => dependency(`DynamoDB GetItem failed: stored item is malformed: ${name}`);
  for (const name of ['externalMeetingId', 'ownerUsername', 'chimeMeetingData']) {
    if (typeof item[name] !== 'string') throw malformed(name);
  }
  try {
    JSON.parse(item.chimeMeetingData);
  } catch {
    throw malformed('chimeMeetingData');
  }
}

const MEDIA_PLACEMENT_URLS = [
  'AudioHostUrl', 'AudioFallbackUrl', 'SignalingUrl', 'TurnControlUrl',
  'ScreenDataUrl', 'ScreenViewingUrl', 'ScreenSharingUrl', 'EventIngestionUrl',
];

/**
 * The Chime Meeting in the service's own JSON names, as the clients hand it to
 * `new MeetingSessionConfiguration(Meeting, Attendee)`: these fields only, absent ones left out.
 */
function meetingJson(m) {
  for (const name of ['MeetingId', 'ExternalMeetingId', 'MediaRegion', 'MediaPlacement']) {
    if (m[name] == null) throw dependency(`Chime returned a meeting without ${name}`);
  }
  const placement = {};
  for (const name of MEDIA_PLACEMENT_URLS) {
    if (m.MediaPlacement[name] !== undefined) placement[name] = m.MediaPlacement[name];
  }
  return {
    MeetingId: m.MeetingId,
    MeetingHostId: m.MeetingHostId,
    ExternalMeetingId: m.ExternalMeetingId,
    MediaRegion: m.MediaRegion,
    MediaPlacement: placement,
    PrimaryMeetingId: m.PrimaryMeetingId,
    TenantIds: m.TenantIds?.length ? m.TenantIds : undefined,
    MeetingArn: m.MeetingArn,
  };
}

/**
 * Pairs each planned attendee with the one Chime created; an attendee Chime refused is a 400 naming
 * it (the caller then deletes the meeting).
 */
function attendeeRecords(planned, created) {
  const refused = created.Errors?.[0];
  if (refused) {
    const i = planned.findIndex((p) => p.externalUserId === refused.ExternalUserId);
    const field = i >= 0 ? `meetingAttendees[${i}].externalUserId` : 'meetingAttendees';
    throw badField(field, refused.ErrorMessage || 'refused by Chime');
  }
  return planned.map((p) => {
    const attendee = (created.Attendees ?? []).find((a) => a.ExternalUserId === p.externalUserId);
    if (!attendee) throw dependency('Chime did not create every attendee');
    for (const name of ['ExternalUserId', 'AttendeeId', 'JoinToken']) {
      if (attendee[name] == null) throw dependency(`Chime returned an attendee without ${name}`);
    }
    const { ExternalUserId, AttendeeId, JoinToken } = attendee;
    return { name: p.name, email: p.email, isOwner: p.isOwner, chime: { ExternalUserId, AttendeeId, JoinToken } };
  });
}

function respond(statusCode, body) {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function requiredEnv(name) {
  const value = process.env[name]?.trim();
  if (!value) {
    throw new Error(`environment variable ${name} is not set`);
  }
  return value;
}

const LEVELS = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };
const LOG_LEVEL = LEVELS[process.env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase()] ?? LEVELS.INFO;

/** One structured JSON line. Never given tokens, join tokens or request bodies. */
function log(level, message, fields) {
  if (LEVELS[level] >= LOG_LEVEL) {
    console.log(JSON.stringify({ level, message, ...fields }));
  }
}
