import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FLOW_TRANSITIONS, FlowControl, type FlowMode, type FlowPorts } from '../../src/tasks/flow-control.ts';

function harness(o: { breakerOpen?: boolean; throttledForMs?: number } = {}) {
  const log: string[] = [];
  const state = { breakerOpen: o.breakerOpen ?? false, throttledForMs: o.throttledForMs ?? 0 };
  const changes: [FlowMode, FlowMode][] = [];
  const delays: number[] = [];
  const ports: FlowPorts = {
    pauseAll: () => log.push('pause'),
    resumeAll: () => log.push('resume'),
    breakerOpen: () => state.breakerOpen,
    throttledForMs: () => state.throttledForMs,
    backoffMs: (n) => 5 * 2 ** (n - 1),
    resumed: (why) => log.push(`resumed:${why}`),
    changed: (from, to, d) => {
      changes.push([from, to]);
      if (d.delayMs !== undefined) delays.push(d.delayMs);
    },
  };
  return { flow: new FlowControl(ports), log, state, changes, delays };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('FlowControl', () => {
  test('a failure pauses, the backoff resumes, a success resets the count', async () => {
    const h = harness();
    h.flow.failed();
    assert.equal(h.flow.mode, 'backoff');
    assert.equal(h.flow.consuming, false);
    assert.deepEqual(h.log, ['pause']);
    await sleep(30);
    assert.equal(h.flow.mode, 'running');
    assert.deepEqual(h.log, ['pause', 'resume', 'resumed:backoff']);
    assert.equal(h.flow.failures, 1);
    h.flow.succeeded();
    assert.equal(h.flow.failures, 0);
  });
  test('consecutive failures double the delay; a Retry-After is honoured in full', () => {
    const h = harness();
    h.flow.failed();
    h.flow.failed();
    h.flow.failed();
    assert.deepEqual(h.delays, [5], 'the delay is reported when the backoff begins');
    assert.equal(h.flow.failures, 3);
    h.flow.close();
    const t = harness({ throttledForMs: 70_000 });
    t.flow.failed();
    assert.deepEqual(t.delays, [70_000]);
    t.flow.close();
  });
  test('an open breaker pauses until it half-opens: probing consumes, a success closes it', () => {
    const h = harness();
    h.flow.breakerOpened();
    assert.equal(h.flow.mode, 'breaker-open');
    assert.equal(h.flow.consuming, false);
    h.flow.breakerHalfOpen();
    assert.equal(h.flow.mode, 'probing');
    assert.equal(h.flow.consuming, true);
    h.flow.succeeded();
    assert.equal(h.flow.mode, 'running');
    assert.deepEqual(h.log, ['pause', 'resume', 'resumed:breaker']);
  });
  test('the breaker closing while probing ends the probe without resuming again', () => {
    const h = harness();
    h.flow.breakerOpened();
    h.flow.breakerHalfOpen();
    h.flow.breakerClosed();
    assert.equal(h.flow.mode, 'running');
    assert.deepEqual(h.log, ['pause', 'resume', 'resumed:breaker']);
  });
  test('a failure while the breaker is open waits for the breaker, not for a timer', async () => {
    const h = harness({ breakerOpen: true });
    h.flow.failed();
    assert.equal(h.flow.mode, 'breaker-open');
    await sleep(30);
    assert.equal(h.flow.mode, 'breaker-open');
    h.flow.breakerClosed();
    assert.equal(h.flow.mode, 'running');
  });
  test('a failed probe goes back to the breaker or to a backoff', () => {
    const h = harness();
    h.flow.breakerOpened();
    h.flow.breakerHalfOpen();
    h.state.breakerOpen = true;
    h.flow.failed();
    assert.equal(h.flow.mode, 'breaker-open');
    h.flow.close();
  });
  test('breaker events while running change nothing; closed is final', () => {
    const h = harness();
    h.flow.breakerHalfOpen();
    h.flow.breakerClosed();
    assert.equal(h.flow.mode, 'running');
    assert.deepEqual(h.log, []);
    h.flow.close();
    h.flow.failed();
    h.flow.breakerOpened();
    h.flow.breakerHalfOpen();
    assert.equal(h.flow.mode, 'closed');
    assert.deepEqual(h.changes, [['running', 'closed']]);
  });
  test('every move made is in the transition table', async () => {
    const h = harness();
    h.flow.failed();
    h.flow.breakerOpened();
    h.flow.breakerHalfOpen();
    h.flow.failed();
    await sleep(30);
    h.flow.breakerOpened();
    h.flow.breakerClosed();
    h.flow.close();
    for (const [from, to] of h.changes) assert.ok(FLOW_TRANSITIONS[from].includes(to), `${from} → ${to}`);
    assert.ok(h.changes.length >= 6);
  });
});
