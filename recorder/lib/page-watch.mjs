// Watches the meeting page (page/src/main.js, `window.recorderSession`) through the browser's
// DevTools endpoint on loopback (run.sh starts Chromium with --remote-debugging-port) and says when
// the recording should end by itself:
//   - the page never got into the meeting within `joinTimeoutSeconds`, or its join failed for good
//     → `join-failed` (the SDK retries a failed connection quietly; the page reports each failure);
//   - after being in the meeting, the page stayed out of it for `endGraceSeconds`: the meeting ended
//     (`meeting-ended`), the bot was removed (`attendee-removed`), or the session failed;
//   - the browser went away → `browser-lost` (nothing but a blank screen would be recorded).
// Only the session's status, stop reason and join error are read: never the join token.

import { describe, log } from './log.mjs';

const POLL_MS = 1_000;

export class PageWatch {
  constructor({ debugUrl, joinTimeoutSeconds, endGraceSeconds, onEnd }) {
    Object.assign(this, { debugUrl, joinTimeoutSeconds, endGraceSeconds, onEnd });
    this.startedAt = Date.now();
    this.everJoined = false;
    this.outSince = null;
    this.reportedRetrying = false;
    this.ended = false;
    this.timer = null;
    this.browser = null;
  }

  async start() {
    const { default: puppeteer } = await import('puppeteer-core');
    // The browser may still be starting: a few tries over ten seconds.
    for (let attempt = 1; ; attempt += 1) {
      try {
        this.browser = await puppeteer.connect({ browserURL: this.debugUrl, defaultViewport: null });
        break;
      } catch (error) {
        if (attempt >= 20) {
          this.end('browser-lost', { error: `cannot reach the browser's DevTools endpoint: ${describe(error)}` });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    this.browser.on('disconnected', () => this.end('browser-lost', { error: 'the browser closed' }));
    this.timer = setInterval(() => this.poll().catch((error) => log('warn', 'could not read the meeting page', { error: describe(error) })), POLL_MS);
  }

  async session() {
    const pages = await this.browser.pages();
    const page = pages.find((p) => p.url().startsWith('file:')) ?? pages[0];
    if (!page) return null;
    return page.evaluate(() => {
      const s = window.recorderSession;
      return s ? { status: s.status, stopReason: s.stopReason ?? null, joinError: s.joinError ?? null } : null;
    });
  }

  async poll() {
    if (this.ended) return;
    const session = await this.session();
    const now = Date.now();
    const status = session?.status ?? 'starting';
    if (status === 'joined') {
      if (!this.everJoined) log('info', 'joined the meeting');
      else if (this.outSince !== null) log('info', 'back in the meeting');
      this.everJoined = true;
      this.outSince = null;
      return;
    }
    if (this.everJoined) {
      if (this.outSince === null) {
        this.outSince = now;
        log('warn', 'out of the meeting', { status, stopReason: session?.stopReason, graceSeconds: this.endGraceSeconds });
      }
      if (now - this.outSince >= this.endGraceSeconds * 1000) {
        this.end(session?.stopReason ?? 'session-failed', { status, joinError: session?.joinError });
      }
      return;
    }
    if (status === 'retrying' && !this.reportedRetrying) {
      this.reportedRetrying = true;
      log('warn', 'could not join the meeting yet: the page keeps retrying', { joinError: session?.joinError, joinTimeoutSeconds: this.joinTimeoutSeconds });
    }
    if (status === 'failed') {
      this.outSince ??= now;
      if (now - this.outSince >= this.endGraceSeconds * 1000) this.end('join-failed', { status, joinError: session?.joinError });
      return;
    }
    if (now - this.startedAt >= this.joinTimeoutSeconds * 1000) {
      this.end('join-failed', { status, joinError: session?.joinError, afterSeconds: this.joinTimeoutSeconds });
    }
  }

  end(reason, detail = {}) {
    if (this.ended) return;
    this.ended = true;
    this.close();
    this.onEnd(reason, detail);
  }

  /** Stops watching (the browser itself is left running: it keeps the display until the exit). */
  close() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.browser) {
      this.browser.removeAllListeners('disconnected');
      this.browser.disconnect().catch(() => {});
    }
  }
}
