// WCAG 2.2 AA as a person uses the pages (issue 26): what a tool such as axe cannot see. Zoom and
// narrow windows, what a screen reader hears while the panel polls, where keyboard focus goes when a
// button goes away, the language of the page title, the panels' names, and a long outage.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { DESKTOP, agentArn } from './support/servers.js';
import { ccpFrame, setUp, until } from './support/harness.js';

const C1 = '4a573372-1f28-4e26-b97b-000000000001';
const C2 = '4a573372-1f28-4e26-b97b-000000000002';

const waiting = { status: 200, body: { purpose: 'report_move', auth_result: null } };
const verified = (attributes) => ({ status: 200, body: { purpose: 'report_move', auth_result: { status: 'succes', attributes } } });
// Long values, long labels (bsn: "Citizen service number (BSN)"), a value without any space.
const ATTRIBUTES = {
  name: 'Ana Maria de Vries-van den Berg',
  given_name: 'Ana Maria',
  family_name: 'de Vries-van den Berg',
  email: 'ana.maria.de.vries-van.den.berg@gemeente-voorbeeldstad.example.nl',
  address: 'Burgemeester van Nispen van Sevenaerstraat 123 bis, 1234 AB Amsterdam-Zuidoost',
  bsn: '999993653',
  birthdate: '1987-05-04',
  phone: '+31 20 123 4567',
  age_over_18: 'true',
};
const nl = JSON.parse(readFileSync(join(DESKTOP, 'i18n', 'nl.json'), 'utf8'));

/** Opens agent.html, signs in through the stub managed login, lets the fake CCP name alice, waits for ready. */
async function start(env) {
  const { page, site, ccp, users } = env;
  await page.goto(`${site.origin}/agent.html`);
  const frame = await ccpFrame(page, ccp);
  const push = (contacts) => frame.evaluate((a) => window.fakeCcp.pushAgent(a), { agentARN: agentArn(users.alice), name: 'alice', contacts });
  await push([]);
  await until(page, () => document.body.dataset.state === 'ready', undefined, { what: 'ready' });
  return { frame, push };
}

const viewIs = (page, id, view) => until(page, ([i, v]) => document.querySelector(`.panel[data-contact-id="${i}"]`)?.dataset.view === v, [id, view], { what: `panel ${id} ${view}` });
const calls = (site, id) => site.apiCalls.filter((c) => c.path === `/session_info/${id}`).length;

/** Waits (without a fixed sleep) until the page has asked for `id` `more` more times. */
async function morePolls(site, id, more, timeout = 10000) {
  const target = calls(site, id) + more;
  const deadline = Date.now() + timeout;
  while (calls(site, id) < target) {
    if (Date.now() > deadline) throw new Error(`fewer than ${more} more polls for ${id}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Presses Tab until the focused element matches `selector` (through the CCP iframe too). */
async function tabTo(page, selector, max = 40) {
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}

/** The focused element as tag#id.class…, e.g. `h2#panel-1-heading.panel-heading` (or `body`). */
const focused = () => {
  const a = document.activeElement;
  if (!a) return 'none';
  return `${a.tagName.toLowerCase()}${a.id ? `#${a.id}` : ''}${[...a.classList].map((c) => `.${c}`).join('')}`;
};
const HEADING = /^h2#panel-\d+-heading\.panel-heading$/;

/** No horizontal scrolling: the document is no wider than the viewport. */
const widths = () => ({ viewport: window.innerWidth, document: document.documentElement.scrollWidth, body: document.body.scrollWidth });

/**
 * How each attribute label and value is laid out: its box width, the width of 10 of its font's
 * characters, and how many line boxes its text takes (one client rect per line of a text node).
 */
const rowLayout = () => [...document.querySelectorAll('.panel dt, .panel dd')].map((node) => {
  const box = node.getBoundingClientRect();
  const range = document.createRange();
  range.selectNodeContents(node);
  const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = getComputedStyle(node).font;
  const tenChars = ctx.measureText('0123456789').width;
  // Wide enough for ten characters, or for the whole text when it is shorter than that.
  const needs = Math.min(tenChars, ctx.measureText(node.textContent).width);
  return { tag: node.tagName, text: node.textContent, width: box.width, right: box.right, needs, lines };
});

test('a long 5xx outage: "unavailable, retrying", still retried after the wait limit, and back to normal when the service answers', async (t) => {
  const env = await setUp(t);
  const { page, site } = env;
  // The spec's 10 minutes shortened to 1.5 s: the outage outlasts it.
  site.config = { ...site.config, poll: { initialMs: 100, factor: 1.5, maxMs: 300, stillWaitingAfterMs: 1500 } };
  site.sessionInfo.set(C1, [waiting, { status: 503, body: { message: 'Service Unavailable' } }]);
  const { push } = await start(env);
  const opened = Date.now();
  await push([{ contactId: C1, state: 'connected' }]);
  await viewIs(page, C1, 'unavailable');
  assert.match(await page.$eval('.panel .panel-state', (el) => el.textContent), /The caller-details service is unavailable: trying again automatically/);

  // Past the wait limit: still "unavailable", still asking.
  while (Date.now() - opened < 2500) await morePolls(site, C1, 1);
  await morePolls(site, C1, 3);
  assert.equal(await page.evaluate((id) => document.querySelector(`.panel[data-contact-id="${id}"]`).dataset.view, C1), 'unavailable');

  // The service answers again, with the caller verified meanwhile.
  site.sessionInfo.set(C1, [verified({ email: 'back@example.nl' })]);
  await viewIs(page, C1, 'verified');
  assert.match(await page.$eval('.panel', (el) => el.textContent), /back@example\.nl/);
  env.assertClean();
});
