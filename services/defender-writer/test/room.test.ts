import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { limitFromRefusal, roomFor, tenantRoom } from '../src/core/room.ts';

describe('room', () => {
  test('the smaller of the budget and what the other creators leave', () => {
    assert.equal(tenantRoom({ budget: 15_000, tenantLimit: 15_000, foreign: 0 }), 15_000);
    assert.equal(tenantRoom({ budget: 1_500, tenantLimit: 1_500, foreign: 605 }), 895);
    assert.equal(tenantRoom({ budget: 10_000, tenantLimit: 15_000, foreign: 2_000 }), 10_000);
    assert.equal(tenantRoom({ budget: 10_000, tenantLimit: 15_000, foreign: 6_000 }), 9_000);
    assert.equal(tenantRoom({ budget: 15_000, tenantLimit: 15_000, foreign: 16_000 }), 0);
  });
  test('split by partition share, rounded down so that the writers never hold more than the room together', () => {
    assert.equal(roomFor({ budget: 1_500, tenantLimit: 1_500, foreign: 605, share: 1 }), 895);
    const shares = [4 / 12, 4 / 12, 4 / 12];
    const each = shares.map((share) => roomFor({ budget: 1_500, tenantLimit: 1_500, foreign: 605, share }));
    assert.deepEqual(each, [298, 298, 298]);
    assert.ok(each.reduce((a, b) => a + b) <= 895);
    assert.equal(roomFor({ budget: 1_500, tenantLimit: 1_500, foreign: 605, share: 0 }), 0);
  });
});

describe('limitFromRefusal', () => {
  test('the number Defender’s refusal names', () => {
    assert.equal(limitFromRefusal('The tenant reached its limit of 1500 active indicators.'), 1500);
    assert.equal(limitFromRefusal('The tenant reached its limit of 15,000 active indicators.'), 15_000);
    assert.equal(limitFromRefusal('Maximum limit of 15000 indicators reached'), 15_000);
  });
  test('no number: undefined (the listing decides)', () => {
    assert.equal(limitFromRefusal('The tenant reached its indicator limit.'), undefined);
    assert.equal(limitFromRefusal('Rate limit is exceeded. Try again in 5 seconds.'), undefined);
    assert.equal(limitFromRefusal(''), undefined);
  });
});
