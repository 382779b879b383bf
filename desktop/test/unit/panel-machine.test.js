// Every row of the spec's session_info table, the backoff and the 10-minute limit.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { DEFAULT_POLL } from '../../js/config.js';
import {
  FAILURES_BEFORE_UNAVAILABLE,
  NOT_FOUND_TRIES,
  VIEW,
  nextDelay,
  onAnswer,
  parseSessionInfo,
  restartPanel,
  sortedAttributes,
  startPanel,
} from '../../js/panel-machine.js';

const poll = DEFAULT_POLL;
const T0 = 1_000_000;
const ctx = (extra = {}) => ({ now: T0, poll, connecting: false, ...extra });
const ok = (body) => ({ status: 200, body });
const pending = ok({ purpose: 'report_move', auth_result: null });
const verified = ok({ purpose: 'report_move', auth_result: { status: 'succes', attributes: { email: 'a@b.nl', name: 'Ana' } } });

/** Feeds answers in order; returns every step's {state, effect}. */
function run(answers, context = {}) {
  let { state } = startPanel(T0);
  return answers.map((answer) => {
    const step = onAnswer(state, answer, ctx(context));
    state = step.state;
    return step;
  });
}
const last = (steps) => steps[steps.length - 1];

describe('a new panel', () => {
  test('shows loading and asks at once', () => {
    const { state, effect } = startPanel(T0);
    assert.equal(state.view.kind, VIEW.LOADING);
    assert.deepEqual(effect, { type: 'poll', delayMs: 0 });
  });
});

describe('200 answers', () => {
  test('auth_result null: purpose, "waiting", polling continues', () => {
    const { state, effect } = last(run([pending]));
    assert.deepEqual(state.view, { kind: VIEW.WAITING, purpose: 'report_move' });
    assert.deepEqual(effect, { type: 'poll', delayMs: 2000 });
  });

  test('succes: purpose, "verified", the attributes, polling stops', () => {
    const { state, effect } = last(run([pending, verified]));
    assert.deepEqual(state.view, { kind: VIEW.VERIFIED, purpose: 'report_move', attributes: { email: 'a@b.nl', name: 'Ana' } });
    assert.deepEqual(effect, { type: 'stop' });
  });

  test('succes without attributes: verified with none', () => {
    const { state } = last(run([ok({ purpose: 'p', auth_result: { status: 'succes' } })]));
    assert.deepEqual(state.view, { kind: VIEW.VERIFIED, purpose: 'p', attributes: {} });
  });

  test('failed without attributes: "verification failed", stop (the original crashed here)', () => {
    const { state, effect } = last(run([ok({ purpose: 'p', auth_result: { status: 'failed' } })]));
    assert.deepEqual(state.view, { kind: VIEW.FAILED, purpose: 'p' });
    assert.deepEqual(effect, { type: 'stop' });
  });

  test('failed with attributes: they are never shown (the original showed them as verified)', () => {
    const { state } = last(run([ok({ purpose: 'p', auth_result: { status: 'failed', attributes: { email: 'x@y.z' } } })]));
    assert.equal(state.view.kind, VIEW.FAILED);
    assert.equal('attributes' in state.view, false);
  });

  for (const [name, body] of [
    ['no body (not JSON)', undefined],
    ['an array', []],
    ['no purpose', { auth_result: null }],
    ['auth_result missing', { purpose: 'p' }],
    ['status "success" (not the wire spelling)', { purpose: 'p', auth_result: { status: 'success' } }],
    ['attributes as a list', { purpose: 'p', auth_result: { status: 'succes', attributes: ['a'] } }],
    ['a non-string attribute', { purpose: 'p', auth_result: { status: 'succes', attributes: { age: 42 } } }],
    ['the API envelope instead of the raw shape', { success: true, data: {} }],
  ]) {
    test(`a 200 with ${name}: "unexpected answer", stop, no exception`, () => {
      const { state, effect } = last(run([ok(body)]));
      assert.equal(state.view.kind, VIEW.UNEXPECTED);
      assert.deepEqual(effect, { type: 'stop' });
    });
  }
});

describe('404', () => {
  test(`"caller not identified" only after ${NOT_FOUND_TRIES} tries in a row`, () => {
    const steps = run([{ status: 404 }, { status: 404 }, { status: 404 }]);
    assert.equal(steps[0].state.view.kind, VIEW.LOADING);
    assert.equal(steps[0].effect.type, 'poll');
    assert.equal(steps[1].effect.type, 'poll');
    assert.equal(steps[2].state.view.kind, VIEW.NOT_IDENTIFIED);
    assert.deepEqual(steps[2].effect, { type: 'stop' });
  });

  test('a link that lands after a 404 is found (the count restarts)', () => {
    const steps = run([{ status: 404 }, { status: 404 }, pending, { status: 404 }, { status: 404 }]);
    assert.equal(last(steps).effect.type, 'poll');
    assert.equal(last(steps).state.view.kind, VIEW.WAITING);
  });
});

describe('403', () => {
  test('retried while the contact is connecting (Connect may not name the agent yet)', () => {
    const steps = run([{ status: 403 }, { status: 403 }, { status: 403 }, { status: 403 }], { connecting: true });
    for (const step of steps) {
      assert.equal(step.effect.type, 'poll');
      assert.equal(step.state.view.kind, VIEW.LOADING);
    }
  });

  test('once connected: "not your contact", stop', () => {
    let { state } = startPanel(T0);
    ({ state } = onAnswer(state, { status: 403 }, ctx({ connecting: true })));
    const step = onAnswer(state, { status: 403 }, ctx({ connecting: false }));
    assert.equal(step.state.view.kind, VIEW.NOT_YOURS);
    assert.deepEqual(step.effect, { type: 'stop' });
  });
});

describe('401', () => {
  test('one silent refresh, then "sign in again" with polling paused', () => {
    const steps = run([{ status: 401 }, { status: 401 }]);
    assert.deepEqual(steps[0].effect, { type: 'refresh' });
    assert.equal(steps[0].state.view.kind, VIEW.LOADING, 'the refresh is silent');
    assert.equal(steps[1].state.view.kind, VIEW.SIGN_IN);
    assert.deepEqual(steps[1].effect, { type: 'pause' });
  });

  test('a refresh that worked earns the next 401 its own refresh', () => {
    const steps = run([{ status: 401 }, pending, { status: 401 }]);
    assert.deepEqual(last(steps).effect, { type: 'refresh' });
  });

  test('after signing in again the panel asks at once', () => {
    const steps = run([pending, { status: 401 }, { status: 401 }]);
    const { state, effect } = restartPanel(last(steps).state, T0 + 5000);
    assert.deepEqual(effect, { type: 'poll', delayMs: 0 });
    assert.deepEqual(state.view, { kind: VIEW.WAITING, purpose: 'report_move' });
    assert.equal(state.refreshed, false);
  });
});

describe('429, 5xx and network failures', () => {
  for (const failure of [{ status: 429 }, { status: 500 }, { status: 502 }, { status: 503 }, { status: 504 }, { network: true }]) {
    const name = failure.network ? 'network' : String(failure.status);
    test(`${name}: "temporarily unavailable" after ${FAILURES_BEFORE_UNAVAILABLE} failures, backing off`, () => {
      const steps = run([pending, failure, failure, failure, failure]);
      assert.equal(steps[1].state.view.kind, VIEW.WAITING, 'one failure keeps what the panel showed');
      assert.equal(steps[2].state.view.kind, VIEW.WAITING);
      assert.deepEqual(steps[3].state.view, { kind: VIEW.UNAVAILABLE, purpose: 'report_move' });
      assert.deepEqual(
        steps.map((s) => s.effect.delayMs),
        [2000, 3000, 4500, 6750, 10125],
      );
    });
  }

  test('an answer after failures clears "unavailable"', () => {
    const failure = { status: 503 };
    const steps = run([failure, failure, failure, pending]);
    assert.equal(steps[2].state.view.kind, VIEW.UNAVAILABLE);
    assert.equal(last(steps).state.view.kind, VIEW.WAITING);
    assert.equal(last(steps).state.failures, 0);
  });
});

describe('anything else', () => {
  for (const status of [400, 302, 405, 409, 410, 418, 422]) {
    test(`${status}: "unexpected answer", stop`, () => {
      const { state, effect } = last(run([{ status, body: { message: 'x' } }]));
      assert.equal(state.view.kind, VIEW.UNEXPECTED);
      assert.deepEqual(effect, { type: 'stop' });
    });
  }
});

describe('intervals', () => {
  test('2 s, ×1.5, at most 15 s', () => {
    const delays = Array.from({ length: 9 }, (_, n) => nextDelay(n, poll));
    assert.deepEqual(delays, [2000, 3000, 4500, 6750, 10125, 15000, 15000, 15000, 15000]);
  });

  test('waiting polls follow the same sequence', () => {
    const steps = run(Array(7).fill(pending));
    assert.deepEqual(
      steps.map((s) => s.effect.delayMs),
      [2000, 3000, 4500, 6750, 10125, 15000, 15000],
    );
  });

  test('the config can change them', () => {
    const custom = { ...poll, initialMs: 100, factor: 2, maxMs: 500 };
    assert.deepEqual([0, 1, 2, 3, 4].map((n) => nextDelay(n, custom)), [100, 200, 400, 500, 500]);
  });

  test('after 10 minutes: "still waiting", stop; Refresh starts ten fresh minutes at once', () => {
    let { state } = startPanel(T0);
    ({ state } = onAnswer(state, pending, ctx({ now: T0 + 2000 })));
    const before = onAnswer(state, pending, ctx({ now: T0 + poll.stillWaitingAfterMs - 1 }));
    assert.equal(before.effect.type, 'poll');
    const after = onAnswer(before.state, pending, ctx({ now: T0 + poll.stillWaitingAfterMs }));
    assert.deepEqual(after.state.view, { kind: VIEW.STILL_WAITING, purpose: 'report_move' });
    assert.deepEqual(after.effect, { type: 'stop' });

    const later = T0 + poll.stillWaitingAfterMs + 60_000;
    const refreshed = restartPanel(after.state, later);
    assert.deepEqual(refreshed.effect, { type: 'poll', delayMs: 0 });
    assert.equal(refreshed.state.startedAt, later);
    assert.equal(refreshed.state.polls, 0);
    assert.deepEqual(refreshed.state.view, { kind: VIEW.WAITING, purpose: 'report_move' });
    const next = onAnswer(refreshed.state, pending, ctx({ now: later + 10 }));
    assert.deepEqual(next.effect, { type: 'poll', delayMs: 2000 });
  });

  test('an outage that outlasts 10 minutes says "unavailable, retrying" and keeps retrying, never "still waiting"', () => {
    const failure = { status: 503 };
    let { state } = startPanel(T0);
    ({ state } = onAnswer(state, pending, ctx({ now: T0 + 1000 })));
    const steps = [];
    // 5xx answers and network failures for an hour, one every 15 s.
    for (let now = T0 + 2000, i = 0; now < T0 + 3_600_000; now += 15_000, i += 1) {
      const step = onAnswer(state, i % 2 ? failure : { network: true }, ctx({ now }));
      steps.push(step);
      state = step.state;
    }
    for (const step of steps.slice(FAILURES_BEFORE_UNAVAILABLE - 1)) {
      assert.deepEqual(step.state.view, { kind: VIEW.UNAVAILABLE, purpose: 'report_move' });
      assert.equal(step.effect.type, 'poll');
    }
    assert.equal(last(steps).effect.delayMs, poll.maxMs, 'at the longest interval');

    // The service answers again: the answer decides. Still no result after the 10 minutes: "still waiting".
    const back = onAnswer(state, pending, ctx({ now: T0 + 3_600_000 }));
    assert.deepEqual(back.state.view, { kind: VIEW.STILL_WAITING, purpose: 'report_move' });
    assert.deepEqual(back.effect, { type: 'stop' });
    assert.equal(back.state.failures, 0);
    // Or the caller verified meanwhile: "verified".
    assert.equal(onAnswer(state, verified, ctx({ now: T0 + 3_600_000 })).state.view.kind, VIEW.VERIFIED);
  });

  test('one failure right at the 10 minutes does not end the wait: the next answer decides', () => {
    let { state } = startPanel(T0);
    ({ state } = onAnswer(state, pending, ctx({ now: T0 + 1000 })));
    const step = onAnswer(state, { status: 503 }, ctx({ now: T0 + poll.stillWaitingAfterMs }));
    assert.deepEqual(step.state.view, { kind: VIEW.WAITING, purpose: 'report_move' });
    assert.equal(step.effect.type, 'poll');
  });
});

describe('no answer makes the machine throw', () => {
  const bodies = [undefined, null, 0, '', 'text', [], {}, { purpose: null }, { purpose: 'p', auth_result: 'x' },
    { purpose: 'p', auth_result: { status: 'succes', attributes: null } }, { purpose: 'p', auth_result: [] }];
  const statuses = [0, 100, 200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 599, 600, NaN, undefined];
  test(`${bodies.length * statuses.length} status/body pairs`, () => {
    for (const status of statuses) {
      for (const body of bodies) {
        for (const connecting of [true, false]) {
          let { state } = startPanel(T0);
          for (let i = 0; i < 4; i += 1) {
            const step = onAnswer(state, { status, body }, ctx({ connecting, now: T0 + i }));
            assert.ok(['poll', 'stop', 'pause', 'refresh'].includes(step.effect.type));
            assert.ok(Object.values(VIEW).includes(step.state.view.kind));
            state = step.state;
          }
        }
      }
    }
  });

  test('parseSessionInfo copes with null attributes as none', () => {
    assert.deepEqual(parseSessionInfo({ purpose: 'p', auth_result: { status: 'succes', attributes: null } }), {
      purpose: 'p',
      result: { status: 'succes', attributes: {} },
    });
  });
});

describe('attributes', () => {
  test('sorted by translated label, not by key or JSON order', () => {
    const labels = { email: 'E-mailadres', name: 'Naam', bsn: 'Burgerservicenummer' };
    const rows = sortedAttributes({ name: 'Ana', email: 'a@b.nl', bsn: '123', zz_unknown: 'x' }, (k) => labels[k] ?? k, 'nl');
    assert.deepEqual(rows.map((r) => r.key), ['bsn', 'email', 'name', 'zz_unknown']);
    assert.deepEqual(rows[0], { key: 'bsn', label: 'Burgerservicenummer', value: '123' });
  });
});
