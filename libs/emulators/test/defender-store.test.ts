import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IndicatorStore } from '../src/defender/store.ts';
import { ValidationError, type IndicatorInput } from '../src/defender/validation.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const input = (over: Partial<IndicatorInput> = {}): IndicatorInput => ({ indicatorValue: 'Example.COM', indicatorType: 'DomainName', action: 'Block', title: 't', description: 'd', ...over });
const app = { clientId: 'app-1', displayName: 'App One' };

describe('IndicatorStore', () => {
  it('upserts on type + value + action: same id, creator and application kept; another action is a second indicator', () => {
    const store = new IndicatorStore({}, () => T0);
    const first = store.upsert(input({ application: 'first' }), app);
    assert.equal(first.id, '1');
    const again = store.upsert(input({ indicatorValue: 'example.com', title: 'new', application: 'second' }), { clientId: 'app-2' });
    assert.equal(again.id, '1');
    assert.equal(again.title, 'new');
    assert.equal(again.application, 'first');
    assert.equal(again.createdBy, 'app-1');
    assert.equal(again.lastUpdatedBy, 'app-2');
    assert.equal(store.upsert(input({ action: 'Warn' }), app).id, '2');
  });

  it('refuses creates at the cap but still updates', () => {
    const store = new IndicatorStore({ cap: 1, firstId: 10 }, () => T0);
    assert.equal(store.upsert(input(), app).id, '10');
    assert.throws(() => store.upsert(input({ indicatorValue: 'other.com' }), app), (e: unknown) => e instanceof ValidationError && e.code === 'BadRequest');
    assert.equal(store.upsert(input({ title: 'x' }), app).title, 'x');
  });

  it('forgets expired indicators and frees their key', () => {
    let now = T0;
    const store = new IndicatorStore({}, () => now);
    store.upsert(input({ expirationTime: new Date(T0 + 1000).toISOString() }), app);
    assert.equal(store.active().length, 1);
    now = T0 + 1000;
    assert.deepEqual(store.active(), []);
    assert.equal(store.upsert(input(), app).id, '2');
  });

  it('strips Url trailing slashes only when asked', () => {
    const url = input({ indicatorType: 'Url', indicatorValue: 'https://x.example/' });
    assert.equal(new IndicatorStore({}, () => T0).upsert(url, app).indicatorValue, 'https://x.example/');
    assert.equal(new IndicatorStore({ stripUrlTrailingSlash: true }, () => T0).upsert(url, app).indicatorValue, 'https://x.example');
  });

  it('removes and clears without reusing ids', () => {
    const store = new IndicatorStore({}, () => T0);
    store.upsert(input(), app);
    store.remove('1');
    assert.equal(store.has('1'), false);
    store.upsert(input(), app);
    store.clear();
    assert.equal(store.upsert(input(), app).id, '3');
  });
});
