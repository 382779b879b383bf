// check-emergency, Node.js 20 reference (benchmark only; see ../README.md).
// Reads a location's emergency state for an Amazon Connect flow: one strongly consistent GetItem of
// `LOC#<location>`/`STATE`. Answers `OK` (Emergency, EmergencyType, UpdatedAt), `NOT_SET_UP` or
// `UNKNOWN_LOCATION`; infrastructure faults are Lambda errors, so the flow takes its Error branch.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';

const NO_EMERGENCY = 'No Emergency';

// Connect waits 8 s for a flow function: at most 7 s for the handler, 0.5 s kept for the answer.
const MAX_HANDLER_MS = 7_000;
const ANSWER_MARGIN_MS = 500;

// Configuration, read once at cold start; a bad value fails the init, naming the variable.
const TABLE = requiredEnv('EMERGENCY_TABLE');
const LOCATIONS = namesEnv('EMERGENCY_LOCATIONS');

// Endpoint, region, credentials and retries come from the standard AWS_* variables.
const dynamodb = DynamoDBDocumentClient.from(
  new DynamoDBClient({
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000, throwOnRequestTimeout: true },
  }),
);

class StoreError extends Error {
  name = 'StoreError';
}
class DeadlineExceeded extends Error {
  name = 'DeadlineExceeded';
}
class InvalidEvent extends Error {
  name = 'InvalidEvent';
}

export const handler = async (event, context) => {
  const contactId = nonBlank(event?.Details?.ContactData?.ContactId) ?? '';
  try {
    const result = await checkEmergency(event, context);
    log('INFO', 'flow function answered', { result: result.Result, contactId, requestId: context.awsRequestId });
    return result;
  } catch (error) {
    log('ERROR', 'flow function failed', {
      error: error.message,
      kind: error.name,
      contactId,
      requestId: context.awsRequestId,
    });
    throw error;
  }
};

async function checkEmergency(event, context) {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new InvalidEvent('the event is not a Connect flow event: not a JSON object');
  }
  const location = LOCATIONS.get(nonBlank(event.Details?.Parameters?.location)?.toLowerCase());
  if (!location) {
    return { Result: 'UNKNOWN_LOCATION', Emergency: 'false' };
  }

  const budget = Math.min(MAX_HANDLER_MS, context.getRemainingTimeInMillis() - ANSWER_MARGIN_MS);
  const abortSignal = AbortSignal.timeout(Math.max(0, budget));
  let item;
  try {
    ({ Item: item } = await dynamodb.send(
      new GetCommand({ TableName: TABLE, Key: { pk: `LOC#${location}`, sk: 'STATE' }, ConsistentRead: true }),
      { abortSignal },
    ));
  } catch (error) {
    if (abortSignal.aborted) {
      throw new DeadlineExceeded("DeadlineExceeded: not enough time left for GetItem state before Connect's deadline");
    }
    throw new StoreError(`DynamoDB GetItem failed: ${error.name}: ${error.message}`);
  }

  if (!item) {
    return { Result: 'NOT_SET_UP', Emergency: 'false', EmergencyType: NO_EMERGENCY };
  }
  if (typeof item.emergency !== 'boolean') {
    throw new StoreError('DynamoDB GetItem failed: stored item is malformed: location state without emergency');
  }
  // Connect takes flat string values only.
  return {
    Result: 'OK',
    Emergency: String(item.emergency),
    EmergencyType: typeof item.emergencyType === 'string' ? item.emergencyType : NO_EMERGENCY,
    UpdatedAt: typeof item.updatedAt === 'string' ? item.updatedAt : '',
  };
}

/** A string parameter, trimmed; blank or not a string is absent. */
function nonBlank(value) {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function requiredEnv(name) {
  const value = process.env[name]?.trim();
  if (!value) {
    throw new Error(`environment variable ${name} is not set`);
  }
  return value;
}

/** A comma-separated list of names, matched case-insensitively to the configured spelling. */
function namesEnv(name) {
  const names = new Map();
  for (const item of requiredEnv(name).split(',').map((s) => s.trim())) {
    if (!item) {
      throw new Error(`environment variable ${name} is malformed: empty item in the comma-separated list`);
    }
    if (names.has(item.toLowerCase())) {
      throw new Error(`environment variable ${name} is malformed: "${item}" is listed twice`);
    }
    names.set(item.toLowerCase(), item);
  }
  return names;
}

const LEVELS = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };
const LOG_LEVEL = LEVELS[process.env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase()] ?? LEVELS.INFO;

/** One structured JSON line. Never given tokens, PINs or caller attributes. */
function log(level, message, fields) {
  if (LEVELS[level] >= LOG_LEVEL) {
    console.log(JSON.stringify({ level, message, ...fields }));
  }
}
