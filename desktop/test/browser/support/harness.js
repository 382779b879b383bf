// Debian's chromium driven by puppeteer-core (which downloads no browser), a fresh profile per test,
// and the rule that any console error, uncaught exception or CSP violation fails the test.

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import puppeteer from 'puppeteer-core';

import { DESKTOP, makeUsers, startCcp, startCognito, startSite } from './servers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = process.env.DESKTOP_SCREENSHOTS ?? join(DESKTOP, '..', 'target', 'desktop-screenshots');

/** A short poll for tests; production uses the spec's 2 s ×1.5 ≤ 15 s (config.js DEFAULT_POLL). */
export const FAST_POLL = { initialMs: 150, factor: 1.5, maxMs: 600 };

/**
 * Starts the three origins and chromium with a fresh profile; everything is stopped after the test.
 * Returns { site, ccp, cognito, users, browser, page, problems, assertClean, screenshot }.
 */
export async function setUp(t) {
  const chrome = await launchChromium(t);
  const users = makeUsers();
  const ccp = await startCcp();
  const cognito = await startCognito({ users });
  const site = await startSite({ users, cognito, ccpOrigin: ccp.origin });
  // Registered after chromium's clean-up, so the browser is closed before the servers.
  t.after(() => Promise.all([site.close(), ccp.close(), cognito.close()]));
  ccp.approvedOrigins.push(site.origin); // the template's AWS::Connect::ApprovedOrigin
  site.config = {
    ccpUrl: ccp.ccpUrl,
    loginUrl: ccp.loginUrl,
    cognito: { domain: cognito.origin, clientId: cognito.clientId },
    connectLoginByEmail: true,
    locale: 'en',
    poll: FAST_POLL,
  };
  // Chromium logs every non-2xx fetch answer as "Failed to load resource". The stub API's 4xx/5xx
  // answers are the test's own script (403, 404, 401…): those lines are expected.
  chrome.expectHttpErrorsFrom(`${site.origin}/api/`);
  return { site, ccp, cognito, users, ...chrome };
}

/**
 * Debian's chromium with a fresh profile and one page, closed after the test (also used by the
 * local cloud's end-to-end tests in test/e2e). Returns { browser, page, problems,
 * expectHttpErrorsFrom, assertClean, screenshot }.
 */
export async function launchChromium(t) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`chromium not found at ${CHROMIUM}: install Debian's package (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  const profile = await mkdtemp(join(tmpdir(), 'desktop-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    // Root in a container has no user namespaces for chromium's sandbox; the pages are our own.
    args: ['--no-sandbox', '--no-first-run', '--no-default-browser-check', '--lang=en-US'],
  });
  t.after(async () => {
    await browser.close().catch(() => {});
    await rm(profile, { recursive: true, force: true });
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 760 });

  const problems = [];
  // Any console error is a problem, including a failed load of a page asset, except the
  // "Failed to load resource" lines of the answers a test scripts to fail (expectHttpErrorsFrom).
  const scripted = [];
  watch(page, problems, scripted);
  // CSP violations are reported as console errors by chromium too; this listener makes sure, in
  // every frame, and names the directive.
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} in ${e.documentURI}`);
    });
  });

  return {
    browser,
    page,
    problems,
    expectHttpErrorsFrom(prefix) {
      scripted.push(prefix);
    },
    assertClean() {
      if (problems.length > 0) throw new Error(`the page reported problems:\n${problems.join('\n')}`);
    },
    async screenshot(name) {
      await mkdir(SCREENSHOTS, { recursive: true });
      const path = join(SCREENSHOTS, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
  };
}

function watch(page, problems, scripted) {
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const url = message.location()?.url ?? '';
    const httpAnswer = message.text().startsWith('Failed to load resource: the server responded with a status of');
    if (httpAnswer && scripted.some((prefix) => url.startsWith(prefix))) return;
    problems.push(`console.error: ${message.text()}${url ? ` (${url})` : ''}`);
  });
}

/** The CCP iframe's frame (the fake CCP), once it has loaded. */
export async function ccpFrame(page, ccp, timeout = 10000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const frame = page.frames().find((f) => f.url().startsWith(ccp.ccpUrl));
    if (frame) {
      const ready = await frame.evaluate(() => Boolean(window.fakeCcp)).catch(() => false);
      if (ready) return frame;
    }
    if (Date.now() > deadline) throw new Error('the CCP iframe did not load the fake CCP');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls `fn` in the frame until it returns something truthy. */
export async function until(frame, fn, arg, { timeout = 10000, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await frame.evaluate(fn, arg).catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
