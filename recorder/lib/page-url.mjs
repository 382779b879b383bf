#!/usr/bin/env node
// Prints the meeting page's URL for run.sh: file://<recorder>/page/index.html?chimeMeetingData=…&
// chimeAttendeeData=…, both values URL-encoded (a `+` of the base64 must survive URLSearchParams).
//
// It checks both variables first (base64 → JSON with the fields the page needs) so that a task
// started with broken join data fails at once with a clear message instead of recording a page that
// says so. The URL carries the join token: it goes to stdout for run.sh only, never to a log, and
// no error message here quotes a value.

import { pathToFileURL } from 'node:url';

import { pageUrl, readJoinData } from './join-data.mjs';

/** The URL for these environment variables; throws (naming the variable) when one is unusable. */
export function pageUrlFromEnv(env, base = new URL('../page/index.html', import.meta.url).href) {
  const meetingData = env.CHIME_MEETING_DATA ?? '';
  const attendeeData = env.CHIME_ATTENDEE_DATA ?? '';
  const url = pageUrl(base, meetingData, attendeeData);
  // The same decoding as the page's, on the URL it will get: what passes here, the page can read.
  try {
    readJoinData(new URL(url).search);
  } catch (error) {
    // The page's names for the values are the query's; the task's are the variables'.
    throw new Error(
      error.message.replace('chimeMeetingData', 'CHIME_MEETING_DATA').replace('chimeAttendeeData', 'CHIME_ATTENDEE_DATA'),
    );
  }
  return url;
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  try {
    process.stdout.write(`${pageUrlFromEnv(process.env)}\n`);
  } catch (error) {
    console.error(`page-url: ${error.message}`);
    process.exit(2);
  }
}
