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

test('1.4.4 Resize text: at 200 % zoom every attribute label and value keeps whole words on its lines', async (t) => {
  const env = await setUp(t);
  const { page, site } = env;
  // A 1280 × 760 window at 200 % zoom lays out at 640 × 380 CSS px with two device pixels per px:
  // the same viewport and devicePixelRatio that browser zoom gives the page.
  await page.setViewport({ width: 640, height: 380, deviceScaleFactor: 2 });
  site.sessionInfo.set(C1, [verified(ATTRIBUTES)]);
  const { push } = await start(env);
  assert.deepEqual(await page.evaluate(() => [window.innerWidth, window.devicePixelRatio]), [640, 2]);
  await push([{ contactId: C1, state: 'connected' }]);
  await viewIs(page, C1, 'verified');

  const rows = await page.evaluate(rowLayout);
  assert.equal(rows.length, 2 * (Object.keys(ATTRIBUTES).length + 1), 'the purpose and every attribute');
  for (const row of rows) {
    const what = `${row.tag} "${row.text}" (${Math.round(row.width)} px, ${row.lines} lines)`;
    assert.ok(row.width >= row.needs - 0.5, `${what}: narrower than 10 characters or its text (${Math.round(row.needs)} px)`);
    assert.ok(row.lines <= Math.max(1, Math.ceil(row.text.length / 12)), `${what}: fewer than 12 characters a line`);
    assert.ok(row.right <= 640, `${what}: beyond the viewport`);
  }
  // The longest value is on as few lines as its box allows: no more than twice the minimum.
  const address = rows.find((r) => r.text === ATTRIBUTES.address);
  assert.ok(address.lines <= 3, `the address takes ${address.lines} lines`);
  const w = await page.evaluate(widths);
  assert.ok(w.document <= w.viewport, `no horizontal scroll at 200 %: ${JSON.stringify(w)}`);
  await env.screenshot('agent-zoom-200');

  // Any window between 320 and 1280 CSS px (where the panel sits beside the CCP at its narrowest
  // too): the same holds, and nothing scrolls sideways.
  for (let width = 320; width <= 1280; width += 40) {
    await page.setViewport({ width, height: 760 });
    for (const row of await page.evaluate(rowLayout)) {
      const what = `at ${width} px: ${row.tag} "${row.text}" (${Math.round(row.width)} px, ${row.lines} lines)`;
      assert.ok(row.width >= row.needs - 0.5, `${what}: narrower than 10 characters or its text`);
      assert.ok(row.lines <= Math.max(1, Math.ceil(row.text.length / 12)), `${what}: fewer than 12 characters a line`);
    }
    const at = await page.evaluate(widths);
    assert.ok(at.document <= at.viewport, `no horizontal scroll at ${width} px: ${JSON.stringify(at)}`);
  }
  env.assertClean();
});

test('1.4.10 Reflow: at 320 × 640 CSS px no page scrolls sideways, the CCP takes the width, the panel is whole', async (t) => {
  const env = await setUp(t);
  const { page, site, ccp, users } = env;
  await page.setViewport({ width: 320, height: 640 });

  // agent.html: the CCP stacked above the panel, each the width of the window (less the padding).
  site.sessionInfo.set(C1, [verified(ATTRIBUTES)]);
  const { push } = await start(env);
  await push([{ contactId: C1, state: 'connected' }]);
  await viewIs(page, C1, 'verified');
  const agent = await page.evaluate(() => {
    const rect = (node) => node.getBoundingClientRect().toJSON();
    const panel = document.querySelector('.panel');
    const outside = [...panel.querySelectorAll('*')].filter((n) => n.getBoundingClientRect().right > 320.5 || n.getBoundingClientRect().left < 0).map((n) => n.outerHTML.slice(0, 80));
    return { ccp: rect(document.getElementById('ccp')), panel: rect(panel), outside };
  });
  let w = await page.evaluate(widths);
  assert.ok(w.document <= 320 && w.body <= 320, `agent: no horizontal scroll: ${JSON.stringify(w)}`);
  assert.ok(agent.ccp.width >= 300, `agent: the CCP is ${agent.ccp.width} px wide`);
  assert.ok(agent.ccp.height >= 400, `agent: the CCP is ${agent.ccp.height} px tall`);
  assert.ok(agent.panel.left >= 0 && agent.panel.right <= 320 && agent.panel.width >= 300, `agent: panel ${JSON.stringify(agent.panel)}`);
  assert.ok(agent.panel.top >= agent.ccp.bottom, 'agent: the panel is under the CCP');
  assert.deepEqual(agent.outside, [], 'agent: nothing in the panel reaches past the window');
  await env.screenshot('agent-320');

  // in-session.html: its CCP is always shown.
  await page.goto(`${site.origin}/in-session.html`);
  let frame = await ccpFrame(page, ccp);
  await frame.evaluate((arn) => window.fakeCcp.pushAgent({ agentARN: arn, name: 'Alice', contacts: [] }), agentArn(users.alice));
  await until(page, () => document.body.dataset.state === 'ready', undefined, { what: 'in-session ready' });
  w = await page.evaluate(widths);
  assert.ok(w.document <= 320 && w.body <= 320, `in-session: no horizontal scroll: ${JSON.stringify(w)}`);
  let box = await page.$eval('#ccp', (el) => el.getBoundingClientRect().toJSON());
  assert.ok(box.width >= 300 && box.right <= 320, `in-session: CCP ${JSON.stringify(box)}`);
  assert.ok(box.height >= 400, `in-session: the CCP is ${box.height} px tall`);
  await env.screenshot('in-session-320');

  // audio-only.html: its CCP is hidden until the agent shows it.
  await page.goto(`${site.origin}/audio-only.html`);
  frame = await ccpFrame(page, ccp);
  await frame.evaluate((arn) => window.fakeCcp.pushAgent({ agentARN: arn, name: 'Alice', contacts: [] }), agentArn(users.alice));
  await until(page, () => document.body.dataset.state === 'ready', undefined, { what: 'audio-only ready' });
  w = await page.evaluate(widths);
  assert.ok(w.document <= 320 && w.body <= 320, `audio-only: no horizontal scroll: ${JSON.stringify(w)}`);
  await page.click('#toggle-ccp');
  box = await page.$eval('#ccp', (el) => el.getBoundingClientRect().toJSON());
  w = await page.evaluate(widths);
  assert.ok(w.document <= 320 && w.body <= 320, `audio-only, CCP shown: no horizontal scroll: ${JSON.stringify(w)}`);
  assert.ok(box.width >= 300 && box.right <= 320, `audio-only: CCP ${JSON.stringify(box)}`);
  await env.screenshot('audio-only-320');
  env.assertClean();
});

test('the panel is a live region that polls do not touch: the same answer changes nothing, a new one only what changed', async (t) => {
  const env = await setUp(t);
  const { page, site } = env;
  site.sessionInfo.set(C1, [waiting]);
  const { push } = await start(env);
  await push([{ contactId: C1, state: 'connected' }]);
  await viewIs(page, C1, 'waiting');

  await page.evaluate((id) => {
    const panel = document.querySelector(`.panel[data-contact-id="${id}"]`);
    const live = panel.closest('[aria-live]');
    window.__live = { panel: [], status: [] };
    const options = { childList: true, characterData: true, attributes: true, subtree: true };
    const note = (name) => (records) => window.__live[name].push(...records.map((r) => `${r.type} ${r.target.nodeName} ${r.attributeName ?? ''}`));
    window.__flush = [];
    for (const [node, name] of [[live, 'panel'], [document.getElementById('status'), 'status']]) {
      const observer = new MutationObserver(note(name));
      observer.observe(node, options);
      window.__flush.push(() => note(name)(observer.takeRecords()));
    }
    window.__parts = { heading: panel.querySelector('h2'), state: panel.querySelector('.panel-state'), purpose: panel.querySelector('.panel-purpose') };
  }, C1);

  // Polls answered with the same "waiting": the request after next is only sent once the answer
  // before it was rendered, so three more requests mean at least two answers rendered.
  await morePolls(site, C1, 3);
  const unchanged = await page.evaluate(() => {
    for (const flush of window.__flush) flush();
    return window.__live;
  });
  assert.deepEqual(unchanged, { panel: [], status: [] }, 'a poll with the same answer changes nothing in the live regions');

  // The caller verifies: the state line's text changes and the attributes arrive; the rest stays.
  site.sessionInfo.set(C1, [verified({ email: 'ana@example.nl' })]);
  await viewIs(page, C1, 'verified');
  const changed = await page.evaluate((id) => {
    const panel = document.querySelector(`.panel[data-contact-id="${id}"]`);
    return {
      records: window.__live.panel.length,
      state: panel.querySelector('.panel-state').textContent,
      attributes: panel.querySelector('.panel-attributes')?.textContent,
      same: {
        heading: window.__parts.heading === panel.querySelector('h2'),
        state: window.__parts.state === panel.querySelector('.panel-state'),
        purpose: window.__parts.purpose === panel.querySelector('.panel-purpose'),
      },
      status: window.__live.status,
    };
  }, C1);
  assert.ok(changed.records > 0, 'the change is in the live region');
  assert.equal(changed.state, 'Verified');
  assert.match(changed.attributes, /ana@example\.nl/);
  assert.deepEqual(changed.same, { heading: true, state: true, purpose: true }, 'the unchanged parts are the same elements');
  assert.deepEqual(changed.status, [], 'the page status line was not touched');

  // Verified stops the polling; nothing more happens in the region.
  const before = changed.records;
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await page.evaluate(() => window.__live.panel.length), before);
  env.assertClean();
});

test('2.4.3 Focus order: Refresh pressed from the keyboard leaves focus on the panel heading, not the body', async (t) => {
  const env = await setUp(t);
  const { page, site } = env;
  site.config = { ...site.config, poll: { initialMs: 100, factor: 1.5, maxMs: 300, stillWaitingAfterMs: 1200 } };
  site.sessionInfo.set(C1, [waiting]);
  const { push } = await start(env);
  await push([{ contactId: C1, state: 'connected' }]);
  await viewIs(page, C1, 'still_waiting');

  await tabTo(page, '.panel-refresh');
  site.sessionInfo.set(C1, [waiting, verified({ email: 'late@example.nl' })]);
  await page.keyboard.press('Enter');
  await until(page, () => !document.querySelector('.panel-refresh'), undefined, { what: 'Refresh gone' });
  assert.match(await page.evaluate(focused), HEADING, 'focus moved to the heading as the button went');
  await viewIs(page, C1, 'verified');
  assert.match(await page.evaluate(focused), HEADING, 'and stays there through the next renders');
  await env.screenshot('agent-focus-after-refresh');
  assert.equal(await page.evaluate((id) => document.activeElement === document.querySelector(`.panel[data-contact-id="${id}"] h2`), C1), true);
  env.assertClean();
});

test('2.4.3 Focus order: Sign in (the panel\'s, then the banner\'s) pressed from the keyboard never drops focus to the body', async (t) => {
  const env = await setUp(t);
  const { page, site, cognito, browser } = env;
  site.sessionInfo.set(C1, [waiting]);
  const { push } = await start(env);
  await push([{ contactId: C1, state: 'connected' }]);
  await viewIs(page, C1, 'waiting');

  // Both tokens stop working: after the one refresh fails, the panel asks for a new sign-in.
  cognito.revokeIdTokens();
  cognito.revokeRefreshTokens();
  env.expectHttpErrorsFrom(`${cognito.origin}/oauth2/token`);
  await viewIs(page, C1, 'sign_in');

  // The panel's Sign in, with the space bar: managed login in a popup, then the panel resumes.
  const popupGone = () => new Promise((resolve) => {
    const gone = (target) => {
      if (target.url().includes('/agent.html') && target !== page.target()) {
        browser.off('targetdestroyed', gone);
        resolve();
      }
    };
    browser.on('targetdestroyed', gone);
  });
  await tabTo(page, '.panel-sign-in');
  site.sessionInfo.set(C1, [verified({ email: 'after-sign-in@example.nl' })]);
  let popupClosed = popupGone();
  await page.keyboard.press('Space');
  await viewIs(page, C1, 'verified');
  await popupClosed;
  assert.match(await page.evaluate(focused), HEADING, 'focus on the panel heading');
  assert.equal(await page.evaluate((id) => document.activeElement === document.querySelector(`.panel[data-contact-id="${id}"] h2`), C1), true);

  // Again, with the banner's Sign in and Enter: focus goes to the status line that says who signed in.
  site.sessionInfo.set(C2, [waiting]);
  cognito.revokeIdTokens();
  cognito.revokeRefreshTokens();
  await push([{ contactId: C1, state: 'connected' }, { contactId: C2, state: 'connected' }]);
  await viewIs(page, C2, 'sign_in');
  await tabTo(page, '#sign-in button');
  site.sessionInfo.set(C2, [verified({ email: 'again@example.nl' })]);
  popupClosed = popupGone();
  await page.keyboard.press('Enter');
  await viewIs(page, C2, 'verified');
  await popupClosed;
  assert.equal(await page.$eval('#sign-in', (el) => el.hidden), true);
  assert.equal(await page.evaluate(focused), 'p#status.status', 'focus on the status line');
  assert.match(await page.$eval('#status', (el) => el.textContent), /Signed in as/);
  env.assertClean();
});

for (const [name, key] of [['audio-only', 'title_audio_only'], ['in-session', 'title_in_session'], ['agent', 'title_agent']]) {
  test(`3.1.2 Language: ${name}.html in nl has a Dutch title and lang="nl"`, async (t) => {
    const env = await setUp(t);
    const { page, site } = env;
    await page.setExtraHTTPHeaders({ 'Accept-Language': 'nl-NL,nl;q=0.9' });
    await page.evaluateOnNewDocument(() => {
      Object.defineProperty(navigator, 'languages', { get: () => ['nl-NL', 'nl'] });
    });
    if (name === 'agent') {
      await start(env);
    } else {
      await page.goto(`${site.origin}/${name}.html`);
      await ccpFrame(page, env.ccp);
    }
    await until(page, () => document.documentElement.lang === 'nl', undefined, { what: 'lang nl' });
    assert.equal(await page.evaluate(() => document.title), nl.ui[key]);
    assert.equal(await page.$eval('h1', (el) => el.textContent), nl.ui[key]);
    assert.notEqual(nl.ui[key], JSON.parse(readFileSync(join(DESKTOP, 'i18n', 'en.json'), 'utf8')).ui[key], 'the Dutch title is not the English one');
    env.assertClean();
  });
}

test('each panel is a region named by its own heading, distinct per contact', async (t) => {
  const env = await setUp(t);
  const { page, site } = env;
  site.sessionInfo.set(C1, [verified({ email: 'one@example.nl' })]);
  site.sessionInfo.set(C2, [waiting]);
  const { push } = await start(env);
  await push([{ contactId: C1, state: 'connected' }, { contactId: C2, state: 'connected' }]);
  await viewIs(page, C1, 'verified');
  await viewIs(page, C2, 'waiting');

  // What assistive technology gets: the accessibility tree's regions and their names.
  const regions = [];
  const walk = (node) => {
    if (node.role === 'region') regions.push(node.name);
    for (const child of node.children ?? []) walk(child);
  };
  walk(await page.accessibility.snapshot({ interestingOnly: false }));
  assert.equal(regions.length, 2, `two regions: ${JSON.stringify(regions)}`);
  assert.deepEqual(regions, [`Caller details (ID Contact), contact ${C1}`, `Caller details (ID Contact), contact ${C2}`]);

  // And in the DOM: aria-labelledby names each panel's own h2.
  const named = await page.$$eval('.panel', (panels) => panels.map((p) => {
    const heading = document.getElementById(p.getAttribute('aria-labelledby'));
    return { tag: p.tagName, heading: heading?.tagName, inside: p.contains(heading), name: heading?.textContent };
  }));
  for (const n of named) assert.deepEqual({ ...n, name: undefined }, { tag: 'SECTION', heading: 'H2', inside: true, name: undefined });
  assert.equal(new Set(named.map((n) => n.name)).size, 2, 'distinct names');
  env.assertClean();
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
