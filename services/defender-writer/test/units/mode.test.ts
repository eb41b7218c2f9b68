import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chooseMode, type ModeInput } from '../../src/core/mode.ts';

const calm: ModeInput = { catchingUp: false, waitingBatches: 0, failures: 0, breakerClosed: true, throttledForMs: 0, quotaWaitMs: 0 };

describe('chooseMode', () => {
  test('send when nothing holds the call back', () => {
    assert.equal(chooseMode(calm), 'send');
  });
  test('defer wins over everything while catching up', () => {
    assert.equal(chooseMode({ ...calm, catchingUp: true, waitingBatches: 3, failures: 2, quotaWaitMs: 100 }), 'defer');
  });
  test('join while another batch waits for the lock', () => {
    assert.equal(chooseMode({ ...calm, waitingBatches: 1, quotaWaitMs: 100 }), 'join');
  });
  test('fold while the quota would make the call wait', () => {
    assert.equal(chooseMode({ ...calm, quotaWaitMs: 1 }), 'fold');
  });
  test('never fold after a failure, with the breaker not closed, or over a Retry-After', () => {
    assert.equal(chooseMode({ ...calm, quotaWaitMs: 1, failures: 1 }), 'send');
    assert.equal(chooseMode({ ...calm, quotaWaitMs: 1, breakerClosed: false }), 'send');
    assert.equal(chooseMode({ ...calm, quotaWaitMs: 1, throttledForMs: 5 }), 'send');
  });
});
