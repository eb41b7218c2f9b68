import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateLimiter } from '../src/defender/rate-limits.ts';

describe('RateLimiter', () => {
  it('counts per app and endpoint in sliding windows; refused calls use no budget', () => {
    let now = 0;
    const limiter = new RateLimiter({ import: [{ limit: 2, windowMs: 60_000 }] }, 1, () => now);
    assert.equal(limiter.check('import', 'a'), undefined);
    now = 10_000;
    assert.equal(limiter.check('import', 'a'), undefined);
    assert.equal(limiter.check('import', 'a'), 50, 'the first call leaves the window in 50 s');
    assert.equal(limiter.check('import', 'b'), undefined, 'another app has its own budget');
    now = 60_001;
    assert.equal(limiter.check('import', 'a'), undefined);
  });

  it('answers Retry-After in real seconds, at least 1', () => {
    let now = 0;
    const limiter = new RateLimiter({ list: [{ limit: 1, windowMs: 60_000 }] }, 60, () => now);
    limiter.check('list', 'a');
    assert.equal(limiter.check('list', 'a'), 1);
    now = 59_999;
    assert.equal(limiter.check('list', 'a'), 1);
  });

  it('applies the documented limits by default and none when disabled', () => {
    const limiter = new RateLimiter(undefined, 1, () => 0);
    for (let i = 0; i < 30; i++) assert.equal(limiter.check('import', 'a'), undefined);
    assert.equal(typeof limiter.check('import', 'a'), 'number');
    assert.equal(limiter.check('token', 'a'), undefined, 'the token endpoint has no limit');
    limiter.enabled = false;
    assert.equal(limiter.check('import', 'a'), undefined);
    const off = new RateLimiter(false, 1, () => 0);
    for (let i = 0; i < 40; i++) assert.equal(off.check('import', 'a'), undefined);
  });
});
