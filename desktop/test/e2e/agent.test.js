// The agent page against the real back end in the local cloud (spec "Done when"): managed login on
// the Cognito front, onboarding through set-connect-user-id, and the panel polling session-info
// while ID Contact sessions are started, linked by a played call and given their results.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ccpFrame, launchChromium, until } from '../browser/support/harness.js';
import { callIdContactLine, cloud, newContactId, postResult, routeContact, startSession } from './support/local-cloud.js';

const XSS = '<img src=x onerror="document.title=\'pwned\'">';

/** A caller with an ID Contact session whose call reached `agent`: `{session, call}`. */
async function linkedCall(purpose, agent = 'alice') {
  const session = await startSession(purpose);
  const call = await callIdContactLine(session.code);
  assert.equal(call.result, 'LINKED', 'assign-id linked the call to the session');
  await routeContact({ contactId: call.contactId, initialContactId: call.initialContactId, agent });
  return { session, call };
}

/**
 * Opens agent.html in a fresh browser, signs `agent` in on the managed login form, and lets the
 * fake CCP name the agent. Returns the browser helpers, `push(contacts)`, and every answer the page got.
 */
async function signedIn(t, agent = 'alice') {
  const chrome = await launchChromium(t);
  // session_info's 403 and 404 are answers the stories expect, not page errors.
  chrome.expectHttpErrorsFrom(`${cloud.site}/api/session_info/`);
  const { page } = chrome;
  const answers = [];
  page.on('response', (response) => {
    const request = response.request();
    answers.push({ method: request.method(), url: response.url(), status: response.status(), body: request.postData() });
  });

  await page.goto(`${cloud.site}/agent.html`);
  await page.waitForSelector('#signInFormUsername');
  assert.ok(page.url().startsWith(`${cloud.cognitoDomain}/login?`), `managed login's form: ${page.url()}`);
  await page.type('#signInFormUsername', cloud.agents[agent].email);
  await page.type('#signInFormPassword', cloud.agents[agent].password);
  await Promise.all([page.waitForNavigation(), page.click('button[name="signInSubmitButton"]')]);

  const frame = await ccpFrame(page, cloud.ccp);
  const description = { agentARN: cloud.agents[agent].agentArn, name: agent };
  const push = (contacts) => frame.evaluate((d) => window.fakeCcp.pushAgent(d), { ...description, contacts });
  await push([]);
  await until(page, () => document.body.dataset.state === 'ready', undefined, { what: 'ready', timeout: 20000 });
  return { ...chrome, frame, push, answers };
}

const viewIs = (page, id, view) =>
  until(page, ([i, v]) => document.querySelector(`.panel[data-contact-id="${i}"]`)?.dataset.view === v, [id, view], {
    what: `panel ${id} ${view}`,
    timeout: 20000,
  });
const panelText = (page, id) => page.$eval(`.panel[data-contact-id="${id}"]`, (el) => el.textContent);

test('alice signs in through managed login, onboards, and her linked caller goes from waiting to verified without reload', async (t) => {
  const { session, call } = await linkedCall('request_permit');
  const env = await signedIn(t);
  const { page, push, answers } = env;

  // Managed login: an authorization code with PKCE, exchanged at the token endpoint; the code is gone from the address bar.
  const authorize = answers.find((a) => a.url.startsWith(`${cloud.cognitoDomain}/oauth2/authorize?`));
  const query = new URL(authorize.url).searchParams;
  assert.equal(query.get('code_challenge_method'), 'S256');
  assert.equal(query.get('redirect_uri'), `${cloud.site}/agent.html`);
  const tokenAnswers = answers.filter((a) => a.url === `${cloud.cognitoDomain}/oauth2/token` && a.method === 'POST');
  assert.equal(new URLSearchParams(tokenAnswers[0].body).get('grant_type'), 'authorization_code');
  assert.equal(tokenAnswers[0].status, 200);
  assert.equal(await page.evaluate(() => location.search), '');

  // Onboarding: her first token had no custom:connectUserId; the page set it through the API (which
  // checked it against Connect) and refreshed the token to carry it.
  const onboarding = answers.find((a) => a.url === `${cloud.site}/api/setConnectUserId`);
  assert.equal(onboarding?.status, 200, 'setConnectUserId answered 200');
  assert.equal(JSON.parse(onboarding.body).connectUserId, cloud.agents.alice.connectUserId);
  const refresh = tokenAnswers.find((a) => new URLSearchParams(a.body).get('grant_type') === 'refresh_token');
  assert.equal(refresh?.status, 200, 'the token was refreshed after onboarding');

  // The linked call rings: purpose, "waiting for verification".
  await page.evaluate(() => {
    window.__sameDocument = true;
  });
  const contact = { contactId: call.contactId, initialContactId: call.initialContactId };
  await push([{ ...contact, state: 'connecting' }]);
  await viewIs(page, call.contactId, 'waiting');
  assert.match(await panelText(page, call.contactId), /Waiting for verification/);
  assert.equal(await page.$eval('.panel .panel-purpose dd', (el) => el.textContent), 'Request a permit');

  // The auth plugin posts the result: the next poll shows it, in the same document.
  await push([{ ...contact, state: 'connected' }]);
  await postResult(session.attrUrl, { status: 'succes', attributes: { name: 'Jan de Vries', email: 'jan@example.nl', zz_note: XSS } });
  await viewIs(page, call.contactId, 'verified');
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');
  const rows = await page.$$eval('.panel-attributes dt, .panel-attributes dd', (els) => els.map((el) => el.textContent));
  assert.deepEqual(rows, ['Email address', 'jan@example.nl', 'Name', 'Jan de Vries', 'zz_note', XSS], 'sorted by label');
  // Markup in a value is text: no element was made of it, nothing ran.
  assert.equal(await page.$$eval('.panel img', (els) => els.length), 0);
  assert.notEqual(await page.title(), 'pwned');

  const shot = await env.screenshot('local-cloud-agent');
  console.log(`screenshot: ${shot}`);
  env.assertClean();
});

test('a failed result shows "verification failed" and never its attributes', async (t) => {
  const withAttributes = await linkedCall('request_passport');
  const without = await linkedCall('report_move');
  await postResult(withAttributes.session.attrUrl, { status: 'failed', attributes: { email: 'not-verified@example.nl' } });
  await postResult(without.session.attrUrl, { status: 'failed', attributes: {} });

  const env = await signedIn(t);
  const { page, push, answers } = env;
  assert.equal(answers.filter((a) => a.url.endsWith('/api/setConnectUserId')).length, 0, 'alice was onboarded already');
  const contacts = [withAttributes.call, without.call].map((c) => ({ contactId: c.contactId, initialContactId: c.initialContactId, state: 'connected' }));
  await push(contacts);
  for (const { contactId } of contacts) {
    await viewIs(page, contactId, 'failed');
    assert.match(await panelText(page, contactId), /Verification failed/);
  }
  assert.doesNotMatch(await page.$eval('#panels', (el) => el.textContent), /not-verified@example\.nl/);
  assert.equal(await page.$$eval('.panel-attributes', (els) => els.length), 0);
  env.assertClean();
});

test("bob's contact is \"not your contact\", an unlinked one \"not identified\", a transferred one shows the original's attributes", async (t) => {
  // Bob's caller, linked and verified: alice must still not see it.
  const bobs = await linkedCall('request_permit', 'bob');
  await postResult(bobs.session.attrUrl, { status: 'succes', attributes: { name: 'Bob’s caller' } });
  // A call that never keyed a code.
  const unlinked = { contactId: newContactId() };
  await routeContact({ ...unlinked, agent: 'alice' });
  // A verified caller, transferred to alice: a new contact id, the same initial contact.
  const original = await linkedCall('report_move', 'bob');
  await postResult(original.session.attrUrl, { status: 'succes', attributes: { email: 'transferred@example.nl' } });
  const transferred = { contactId: newContactId(), initialContactId: original.call.initialContactId };
  await routeContact({ ...transferred, agent: 'alice' });

  const env = await signedIn(t);
  const { page, push } = env;
  const all = [
    { contactId: bobs.call.contactId, initialContactId: bobs.call.initialContactId, state: 'connected' },
    { ...unlinked, state: 'connected' },
    { ...transferred, state: 'connected' },
  ];
  await push(all);
  await viewIs(page, bobs.call.contactId, 'not_yours');
  assert.match(await panelText(page, bobs.call.contactId), /Not your contact/);
  assert.doesNotMatch(await panelText(page, bobs.call.contactId), /Bob’s caller/);
  await viewIs(page, unlinked.contactId, 'not_identified');
  assert.match(await panelText(page, unlinked.contactId), /Caller not identified/);
  await viewIs(page, transferred.contactId, 'verified');
  assert.match(await panelText(page, transferred.contactId), /transferred@example\.nl/);
  await env.screenshot('local-cloud-agent-panels');

  // The transferred contact ends: only its panel goes.
  await push(all.slice(0, 2));
  await until(page, (id) => !document.querySelector(`.panel[data-contact-id="${id}"]`), transferred.contactId, { what: 'panel gone' });
  assert.deepEqual(await page.$$eval('.panel', (els) => els.map((el) => el.dataset.contactId)), [bobs.call.contactId, unlinked.contactId]);
  env.assertClean();
});
