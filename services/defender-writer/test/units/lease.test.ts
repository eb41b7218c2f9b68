import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Lease, LeaseLostError } from '../../src/tasks/lease.ts';

describe('Lease', () => {
  test('the guard throws once the lease ran out, even with no event', () => {
    let remaining = 10_000;
    const lease = new Lease(() => remaining);
    const call = lease.callOptions();
    call.guard?.();
    remaining = 0;
    assert.throws(() => call.guard?.(), LeaseLostError);
    assert.equal(call.signal?.aborted, true);
    lease.close();
  });
  test('a lost lease cancels the operations started under it; a new one starts only under a valid lease', () => {
    let remaining = 10_000;
    const lease = new Lease(() => remaining);
    const first = lease.callOptions();
    lease.lose('rebalance');
    assert.equal(first.signal?.aborted, true);
    assert.match(String((first.signal?.reason as Error).message), /rebalance/);
    remaining = 0;
    assert.equal(lease.callOptions().signal?.aborted, true, 'no valid lease: still the lost one');
    remaining = 5_000;
    const next = lease.callOptions();
    assert.equal(next.signal?.aborted, false);
    next.guard?.();
    lease.close();
  });
  test('the timer aborts calls in flight when the lease runs out without renewal', async () => {
    const until = Date.now() + 30;
    const lease = new Lease(() => until - Date.now());
    const call = lease.callOptions();
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(call.signal?.aborted, true);
    lease.close();
  });
});
