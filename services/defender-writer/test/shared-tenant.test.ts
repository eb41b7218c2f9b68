// A tenant shared with other creators (Defender for Cloud Apps, analysts, other TI tools): the room
// they leave, Defender's refusals at its limit, and indicators they add while the writer runs.
// Real Kafka broker, the Defender emulator over real HTTP.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { DefenderEmulator, Indicator } from '@octi-defender/emulators';
import { createCommandsTopic, emulator, gauge, groupLag, ip, ours, publish, startWriter, uniqueTopics, up, waitFor, writerEnv } from './harness.ts';

const OTHER_APP = { clientId: 'defender-for-cloud-apps', displayName: 'Microsoft Defender for Cloud Apps' };
const ANALYST = { clientId: 'analyst@contoso.example', displayName: 'SOC analyst' };

function foreignIndicator(value: string, action = 'Block'): Record<string, unknown> {
  return {
    indicatorValue: value,
    indicatorType: 'IpAddress',
    action,
    title: `${action} by hand`,
    description: 'added in the portal',
    severity: 'High',
    generateAlert: true,
    expirationTime: '2099-01-01T00:00:00Z',
  };
}

/** Values 1..n asserted with strictly increasing scores: value i is stronger than value i − 1. */
const assertions = (n: number) => Array.from({ length: n }, (_, i) => up('src-a', ip(i + 1), 60 + Math.floor(i / 2), Date.now() - 10_000 + i));
const strongest = (n: number, k: number) => Array.from({ length: k }, (_, i) => `${ip(n - i)}:Block`).sort();

describe('a Defender tenant shared with other creators', () => {
  const running: { stop(): Promise<unknown> }[] = [];
  const emulators: DefenderEmulator[] = [];
  afterEach(async () => {
    for (const r of running.splice(0)) await r.stop();
    for (const e of emulators.splice(0)) await e.close();
  });
  async function tenant(cap: number): Promise<DefenderEmulator> {
    const e = await emulator({ cap });
    emulators.push(e);
    return e;
  }

  test('others hold part of the limit: the writers get the room left, the strongest keys, no refusal, no wedge; room freed is filled', async () => {
    const emu = await tenant(40);
    const theirs = emu.seedIndicators(Array.from({ length: 15 }, (_, i) => foreignIndicator(`94.100.${i}.1`)), OTHER_APP);
    const t = uniqueTopics();
    await createCommandsTopic(t, 3);
    const w = await startWriter(writerEnv(emu, t, { MICROSOFT_DEFENDER_INTEL_MAX_INDICATORS: '40', DEFENDER_TENANT_INDICATOR_LIMIT: '40' }));
    running.push(w);
    await publish(t, assertions(50));
    await waitFor('every command committed', async () => (await groupLag(t)) === 0n);
    await waitFor('the 25 strongest (40 − 15) in Defender', () => ours(emu).join() === strongest(50, 25).join());
    assert.equal(await gauge(w.registry, 'octi_writer_cap_capacity'), 25);
    assert.equal(await gauge(w.registry, 'octi_writer_foreign_indicators'), 15);
    await waitFor('the waiting keys measured', async () => (await gauge(w.registry, 'octi_writer_cap_waiting_keys')) === 25);
    assert.equal(await gauge(w.registry, 'octi_writer_cap_refusals_total'), 0, 'the room was known: Defender never had to refuse');
    assert.match(w.writer.ready().detail, /room 25 \(tenant: 25 of limit 40, others hold 15\), 25 of ours in Defender, 25 waiting for room/);
    // The other application removes ten of its indicators: the next listing gives the room to ours.
    emu.removeIndicators(theirs.slice(0, 10).map((f) => f.id));
    await w.writer.reconcile();
    await waitFor('the 35 strongest', () => ours(emu).join() === strongest(50, 35).join());
    assert.deepEqual(
      emu.indicators().filter((i) => i.createdBy === OTHER_APP.clientId),
      theirs.slice(10),
      'the other application’s indicators are untouched',
    );
  });

  test('an action flip in a full room: the old indicator goes first, so the new one fits; no refusal, no loop', async () => {
    const emu = await tenant(40);
    emu.seedIndicators(Array.from({ length: 15 }, (_, i) => foreignIndicator(`94.100.${i}.1`)), OTHER_APP);
    const t = uniqueTopics();
    await createCommandsTopic(t, 2);
    // Scores 72..84 are held; the action changes at 80, inside what is held.
    const w = await startWriter(writerEnv(emu, t, { MICROSOFT_DEFENDER_INTEL_MAX_INDICATORS: '40', DEFENDER_TENANT_INDICATOR_LIMIT: '40', DEFENDER_SCORE_ACTIONS: '80:Block,0:Audit' }));
    running.push(w);
    await publish(t, assertions(50));
    await waitFor('the 25 strongest', () => ours(emu).length === 25 && ours(emu).includes(`${ip(40)}:Audit`));
    await publish(t, [up('src-a', ip(40), 81)]);
    await waitFor('every command committed', async () => (await groupLag(t)) === 0n);
    await waitFor('ip 40 flipped to Block', () => ours(emu).includes(`${ip(40)}:Block`) && !ours(emu).includes(`${ip(40)}:Audit`));
    assert.equal(ours(emu).length, 25);
    assert.equal(await gauge(w.registry, 'octi_writer_cap_refusals_total'), 0, 'the room was made before the create');
    assert.equal(emu.indicators().length, 40);
  });

  test('Defender enforces a lower limit than configured: its refusal is learned, the room re-planned, the strongest kept, nothing wedged', async () => {
    const emu = await tenant(40);
    const theirs = emu.seedIndicators(Array.from({ length: 15 }, (_, i) => foreignIndicator(`94.100.${i}.1`)), OTHER_APP);
    const t = uniqueTopics();
    await createCommandsTopic(t, 2);
    // The defaults: a budget and a limit of 15,000.
    const w = await startWriter(writerEnv(emu, t));
    running.push(w);
    await publish(t, assertions(50));
    await waitFor('every command committed', async () => (await groupLag(t)) === 0n);
    await waitFor('the 25 strongest in Defender', () => ours(emu).join() === strongest(50, 25).join());
    assert.equal(await gauge(w.registry, 'octi_writer_tenant_limit'), 40, 'the limit Defender named');
    assert.equal(await gauge(w.registry, 'octi_writer_cap_capacity'), 25);
    assert.ok(((await gauge(w.registry, 'octi_writer_cap_refusals_total')) ?? 0) > 0, 'Defender refused at its limit');
    assert.equal(await gauge(w.registry, 'octi_writer_paused'), 0);
    assert.deepEqual(emu.indicators().filter((i) => i.createdBy === OTHER_APP.clientId), theirs);
    // Quiet from now on: no batch retried as it was.
    const imports = emu.requests('import').length;
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(emu.requests('import').length, imports, 'no import repeated once the room is known');
  });

  test('an analyst’s indicator added after the listing is never imported over, whatever its action; ours are held back', async () => {
    const emu = await tenant(15_000);
    const t = uniqueTopics();
    await createCommandsTopic(t, 2);
    const w = await startWriter(writerEnv(emu, t, { WRITER_FOREIGN_CHECK_MS: '200' }));
    running.push(w);
    await publish(t, [up('src-a', ip(1), 80)]);
    await waitFor('the first indicator (the tenant was listed before it)', () => ours(emu).length === 1);
    // Past the list quota's even pace (1,500 an hour: one call per 2.4 s) after that listing, so that
    // the next import's look is not deferred.
    await new Promise((r) => setTimeout(r, 2500));
    // The analyst adds, by hand, a Block (the action our policy picks for score 80) and an Allowed.
    const added: Indicator[] = emu.seedIndicators([foreignIndicator(ip(2), 'Block'), foreignIndicator(ip(3), 'Allowed')], ANALYST);
    await new Promise((r) => setTimeout(r, 300));
    await publish(t, [up('src-a', ip(2), 80), up('src-a', ip(3), 80), up('src-a', ip(4), 80)]);
    await waitFor('every command committed', async () => (await groupLag(t)) === 0n);
    await waitFor('ip 4 imported', () => ours(emu).includes(`${ip(4)}:Block`));
    assert.deepEqual(ours(emu), [`${ip(1)}:Block`, `${ip(4)}:Block`]);
    assert.deepEqual(emu.indicators().filter((i) => i.createdBy === ANALYST.clientId), added, 'the analyst’s indicators are untouched, every field');
    await waitFor('both keys held back', async () => (await gauge(w.registry, 'octi_writer_foreign_held_keys')) === 2);
    assert.ok(((await gauge(w.registry, 'octi_writer_foreign_checks_total')) ?? 0) > 0);
  });
});
