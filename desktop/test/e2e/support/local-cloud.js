// The local cloud the end-to-end tests run against, as `tests/desktop.rs` started it: the desktop
// site (CloudFront stand-in over the bucket in moto), the fake CCP origin, managed login on the
// emulator's Cognito front, the HTTP API with the real functions behind it. The URLs arrive in
// SWITCHBOARD_DESKTOP (JSON); the Rust side also serves two things node cannot do with the real
// code: play a call through the contact-flow runner, and seal an auth result as the plugin does.

import { randomUUID } from 'node:crypto';

function environment() {
  const raw = process.env.SWITCHBOARD_DESKTOP;
  if (!raw) {
    throw new Error('SWITCHBOARD_DESKTOP is not set: these tests run inside `cargo test -p switchboard-fleet-tests --test desktop`, which starts the local cloud');
  }
  return JSON.parse(raw);
}

export const cloud = environment();

async function json(response, what) {
  const text = await response.text();
  if (!response.ok) throw new Error(`${what}: HTTP ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** The ID Contact core starts a session (`POST /start_communication`, IAM-signed). */
export async function startSession(purpose) {
  const response = await fetch(`${cloud.gateway}/start_communication`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: cloud.coreSignature },
    body: JSON.stringify({ purpose }),
  });
  const started = await json(response, 'start_communication');
  return { code: started.client_url.split(',').at(-1), attrUrl: started.attr_url };
}

/**
 * The caller rings the ID Contact line and keys the session's code: the flow runner plays
 * IdContact_Inbound, whose assign-id links the call. `{contactId, initialContactId, result}`.
 */
export async function callIdContactLine(code) {
  const response = await fetch(`${cloud.control}/calls`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ code }),
  });
  return json(response, 'the call');
}

/** The contact reaches `agent` in Connect (what DescribeContact will answer session_info). */
export async function routeContact({ contactId, initialContactId = contactId, agent }) {
  const response = await fetch(`${cloud.emulator}/_local/contacts`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ contactId, initialContactId, agentId: cloud.agents[agent].connectUserId }),
  });
  await json(response, 'registering the contact');
}

/** The authentication plugin posts its result to the session's attr_url: sealed, as it does. */
export async function postResult(attrUrl, { status, attributes }) {
  const sealed = await json(
    await fetch(`${cloud.control}/seal`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ status, attributes }),
    }),
    'sealing the result',
  );
  const path = new URL(attrUrl).pathname;
  const response = await fetch(`${cloud.gateway}${path}`, { method: 'POST', body: sealed.jwe });
  if (response.status !== 200) throw new Error(`posting the result: HTTP ${response.status} ${await response.text()}`);
}

export const newContactId = () => randomUUID();
