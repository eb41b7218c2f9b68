// The writer's exactness against Defender's documented behaviour (README, "Exactness"): other
// creators' indicators untouched, in-place updates kept, Retry-After in full, unknown per-item
// failures bounded, echoes in another spelling, token endpoint recovery. Real broker, emulator over HTTP.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { DefenderEmulator } from '@octi-defender/emulators';
import type { Command } from '@octi-defender/indicators';
import { partitionForKey } from '@octi-defender/kafka';
import { CLIENT_ID, SECRET, createCommandsTopic, down, emulator, gauge, groupLag, ip, ours, publish, readDlq, startWriter, uniqueTopics, up, waitFor, writerEnv } from './harness.ts';
import { facts } from './helpers.ts';

let emu: DefenderEmulator;
before(async () => {
  emu = await emulator();
});
after(() => emu.close());
beforeEach(() => emu.reset());

const ANALYST = '0d4c2b6a-9e8f-4a1b-8c3d-2e5f6a7b8c9d';

/** The analyst's manual Block: another application, no expiry (research: import upserts over it on value + type + action). */
function seedAnalystBlock(e: DefenderEmulator, value: string) {
  const [seeded] = e.seedIndicators(
    [{ indicatorValue: value, indicatorType: 'IpAddress', action: 'Block', title: 'analyst: known C2', description: 'manual block', severity: 'High', generateAlert: true, expirationTime: null }],
    { clientId: ANALYST, displayName: 'Security analyst' },
  );
  assert.ok(seeded);
  return seeded;
}

function urlUp(source: string, value: string): Command {
  const c = up(source, value);
  if (c.op !== 'upsert') throw new Error('an upsert');
  return { ...c, key: `Url:${value}`, facts: facts({ type: 'Url', value, score: 70 }) };
}

describe('exactness against Defender', () => {
  test('an analyst’s manual Block that OpenCTI also asserts as Block is neither rewritten nor deleted, also when OpenCTI retracts; other keys proceed', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 2);
    const theirs = seedAnalystBlock(emu, ip(1));
    const w = await startWriter(writerEnv(emu, t));
    try {
      await publish(t, [up('src-a', ip(1), 90), up('src-a', ip(2), 90)]);
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      assert.deepEqual(ours(emu), [`${ip(2)}:Block`], 'only the key nobody else holds is ours');
      assert.deepEqual(emu.indicators().find((i) => i.id === theirs.id), theirs, 'the analyst’s indicator is unchanged (title, expiry, creator)');
      assert.equal(
        emu.requests('import').flatMap((r) => (r.body as { Indicators: { indicatorValue: string }[] }).Indicators).filter((i) => i.indicatorValue === ip(1)).length,
        0,
        'never imported over it',
      );
      assert.equal(w.writer.state(`IpAddress:${ip(1)}`)?.applied, undefined, 'its id is not stored as ours');
      assert.equal(await gauge(w.registry, 'octi_writer_foreign_held_keys'), 1);
      assert.ok(w.lines.some((l) => l.includes('foreign-indicator')), 'the hold is logged');
      await publish(t, [down('src-a', ip(1)), down('src-a', ip(2))]);
      await waitFor('ours deleted', () => ours(emu).length === 0);
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      assert.deepEqual(emu.indicators(), [theirs], 'the retraction deleted ours only');
      const deleted = emu.requests('batchDelete').flatMap((r) => (r.body as { IndicatorIds: string[] }).IndicatorIds);
      assert.ok(!deleted.includes(theirs.id));
    } finally {
      await w.stop();
    }
  });

  test('when the other creator’s indicator goes, the held key is planned again at the next listing', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    const theirs = seedAnalystBlock(emu, ip(5));
    const w = await startWriter(writerEnv(emu, t));
    try {
      await publish(t, [up('src-a', ip(5), 90)]);
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      assert.deepEqual(ours(emu), []);
      await deleteAsAdmin(emu, theirs.id);
      await w.writer.reconcile();
      await waitFor('imported now that nobody else holds it', () => ours(emu).length === 1);
      assert.equal(await gauge(w.registry, 'octi_writer_foreign_held_keys'), 0);
    } finally {
      await w.stop();
    }
  });

  test('keys held back on a partition the writer loses are no longer its own: dropped at the revocation', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 2);
    // One held value on each partition.
    const byPartition = new Map<number, string>();
    for (let i = 1; byPartition.size < 2; i++) byPartition.set(partitionForKey(`IpAddress:${ip(i)}`, 2), ip(i));
    const values = [...byPartition.values()];
    for (const v of values) seedAnalystBlock(emu, v);
    const a = await startWriter(writerEnv(emu, t));
    let b: Awaited<ReturnType<typeof startWriter>> | undefined;
    try {
      await publish(t, values.map((v) => up('src-a', v, 90)));
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      assert.equal(await gauge(a.registry, 'octi_writer_foreign_held_keys'), 2);
      b = await startWriter(writerEnv(emu, t));
      await waitFor('the group split the partitions', () => a.writer.ownedPartitions().size === 1);
      assert.equal(await gauge(a.registry, 'octi_writer_foreign_held_keys'), 1, 'only the key of the partition it still owns');
      assert.deepEqual(ours(emu), []);
    } finally {
      await b?.stop();
      await a.stop();
    }
  });

  test('an import that upserted over an indicator created after the listing: the reconciler stops owning it and a retraction never deletes it', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    const w = await startWriter(writerEnv(emu, t));
    try {
      await publish(t, [up('src-a', ip(7), 90)]);
      await waitFor('ours', () => ours(emu).length === 1);
      // The analyst blocks a value after our listing; OpenCTI then asserts it too: Defender upserts over theirs.
      const theirs = seedAnalystBlock(emu, ip(8));
      await publish(t, [up('src-a', ip(8), 90)]);
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      // Unavoidable: the answer looked like ours (committed first when the quota folds the batch, then sent).
      await waitFor('the import answered with their id', () => w.writer.state(`IpAddress:${ip(8)}`)?.applied?.id === theirs.id);
      const drift = await w.writer.reconcile();
      assert.deepEqual(drift?.adopted.map((a) => [a.key, a.id, a.createdBy]), [[`IpAddress:${ip(8)}`, theirs.id, ANALYST]]);
      assert.equal(w.writer.state(`IpAddress:${ip(8)}`)?.applied, undefined, 'no longer owned');
      await publish(t, [down('src-a', ip(8))]);
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      assert.ok(emu.indicators().some((i) => i.id === theirs.id && i.createdBy === ANALYST), 'never deleted');
      assert.deepEqual(ours(emu), [`${ip(7)}:Block`]);
    } finally {
      await w.stop();
    }
  });

  test('an RBAC group change on a running tenant keeps every indicator (Defender updates them in place, same id)', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 2);
    const n = 40;
    const w = await startWriter(writerEnv(emu, t, { MICROSOFT_DEFENDER_INTEL_RBAC_GROUP_NAMES: 'Tier0' }));
    try {
      await publish(t, Array.from({ length: n }, (_, i) => up('src-a', ip(i + 1))));
      await waitFor('all in Defender', () => ours(emu).length === n);
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
    } finally {
      await w.stop();
    }
    const ids = emu.indicators().map((i) => i.id).sort();
    const deletesBefore = emu.stats().batchDelete.calls;
    // The operator changes the device groups: the writer restarts with the new value and re-plans every key.
    const w2 = await startWriter(writerEnv(emu, t, { MICROSOFT_DEFENDER_INTEL_RBAC_GROUP_NAMES: 'Tier0,Servers' }));
    try {
      await waitFor('every indicator carries the new groups', () => emu.indicators().length === n && emu.indicators().every((i) => i.rbacGroupNames.length === 2));
      await waitFor('states committed', () => [...Array(n).keys()].every((i) => w2.writer.state(`IpAddress:${ip(i + 1)}`)?.applied?.identity === 'Block|Servers|Tier0'));
      assert.deepEqual(emu.indicators().map((i) => i.id).sort(), ids, 'the same indicators, updated in place');
      assert.equal(emu.stats().batchDelete.calls, deletesBefore, 'nothing deleted');
      assert.ok([...Array(n).keys()].every((i) => w2.writer.state(`IpAddress:${ip(i + 1)}`)?.staleIds === undefined), 'no id kept as stale');
    } finally {
      await w2.stop();
    }
  });

  test('a 600 s Retry-After is not cut: the writer pauses until it has passed and no import goes out meanwhile', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    emu.faults({ type: 'status', status: 429, retryAfterSec: 600, endpoints: ['import'], calls: 1 });
    const w = await startWriter(writerEnv(emu, t));
    try {
      await publish(t, [up('src-a', ip(1))]);
      await waitFor('paused for the Retry-After', () => w.lines.some((l) => /"resumeInMs":(\d+)/.exec(l) !== null && Number(/"resumeInMs":(\d+)/.exec(l)?.[1]) > 590_000));
      assert.equal(emu.requests('import').length, 1);
      assert.equal(w.client.throttledForMs() > 590_000, true);
      assert.equal(await gauge(w.registry, 'octi_writer_paused'), 1);
    } finally {
      await w.stop();
    }
  });

  test('an unknown per-item failure is retried WRITER_ITEM_MAX_ATTEMPTS times, then dead-lettered with Defender’s text; the partition proceeds meanwhile', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    emu.faults({ type: 'item', bodyIncludes: `"${ip(1)}"`, message: 'Something unexpected happened' });
    const w = await startWriter(writerEnv(emu, t, { WRITER_ITEM_MAX_ATTEMPTS: '3' }));
    try {
      await publish(t, [up('src-a', ip(1)), up('src-a', ip(2))]);
      await waitFor('the other key lands', () => ours(emu).includes(`${ip(2)}:Block`));
      await waitFor('committed although one item failed', async () => (await groupLag(t)) === 0n);
      await publish(t, [up('src-a', ip(3))]);
      await waitFor('a later command lands', () => ours(emu).includes(`${ip(3)}:Block`));
      await waitFor('dead-lettered', async () => (await readDlq(t)).some((d) => d.reason === 'defender_failed'));
      const [letter] = (await readDlq(t)).filter((d) => d.reason === 'defender_failed');
      assert.equal(letter?.key, `IpAddress:${ip(1)}`);
      assert.match(String(letter?.detail), /Something unexpected happened \(after 3 attempts\)/);
      const tries = emu.requests('import').filter((r) => JSON.stringify(r.body).includes(`"${ip(1)}"`)).length;
      assert.equal(tries, 3);
      assert.deepEqual(ours(emu), [`${ip(2)}:Block`, `${ip(3)}:Block`]);
    } finally {
      await w.stop();
    }
  });

  test('a URL Defender echoes without its trailing slash is applied once, not a protocol-error loop', async () => {
    const strip = await emulator({ stripUrlTrailingSlash: true });
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    const w = await startWriter(writerEnv(strip, t));
    try {
      await publish(t, [urlUp('src-a', 'https://malware.example/'), urlUp('src-a', 'https://malware.example/drop/')]);
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      assert.deepEqual(strip.indicators().map((i) => i.indicatorValue).sort(), ['https://malware.example', 'https://malware.example/drop']);
      assert.equal(strip.stats().import.calls, 1);
      assert.ok(w.writer.state('Url:https://malware.example/')?.applied);
      // The reconciler finds nothing to repair: the ids are known, the other spelling is no orphan.
      const drift = await w.writer.reconcile();
      assert.deepEqual([drift?.missing, drift?.orphaned, drift?.adopted], [[], [], []]);
    } finally {
      await w.stop();
      await strip.close();
    }
  });

  test('with the default breaker settings, a sustained outage after a busy run opens the breaker within a few failed attempts and pauses the writer', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    // The breaker's defaults; the import quota raised so that the busy run fits in a few seconds.
    const defaults = { DEFENDER_BREAKER_VOLUME_THRESHOLD: '5', DEFENDER_BREAKER_RESET_MS: '30000', DEFENDER_HTTP_MAX_RETRIES: '5', DEFENDER_QUOTA_IMPORT_PER_MINUTE: '1000' };
    const w = await startWriter(writerEnv(emu, t, defaults));
    try {
      // A busy window: 30 successful imports, one batch each.
      for (let i = 1; i <= 30; i++) {
        await publish(t, [up('src-a', ip(i))]);
        await waitFor(`indicator ${i}`, () => ours(emu).length === i);
      }
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      emu.faults({ type: 'status', status: 503, endpoints: ['import'] });
      await publish(t, [up('src-a', ip(31))]);
      await waitFor('breaker open', async () => (await gauge(w.registry, 'defender_api_breaker_state')) === 2);
      const failed = emu.requests('import').filter((r) => r.status === 503).length;
      assert.ok(failed <= 6, `${failed} failed attempts before the breaker opened (the 50 % rule alone needed as many as the window's successes)`);
      assert.equal(await gauge(w.registry, 'octi_writer_paused'), 1);
      assert.equal(await groupLag(t), 1n, 'nothing committed during the outage');
    } finally {
      await w.stop();
    }
  });

  test('a token-endpoint 5xx is recovered within the call: no batch retried, no minute lost to msal’s throttling', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    const w = await startWriter(writerEnv(emu, t));
    try {
      await publish(t, [up('src-a', ip(1))]);
      await waitFor('first', () => ours(emu).length === 1);
      const tokensBefore = emu.requests('token').length;
      emu.expireTokens();
      emu.faults({ type: 'status', status: 503, endpoints: ['token'], calls: 1 });
      await publish(t, [up('src-a', ip(2))]);
      await waitFor('second', () => ours(emu).length === 2);
      assert.equal(emu.requests('token').length - tokensBefore, 2, 'the failed request, then one that reached Entra');
      assert.equal(w.lines.filter((l) => l.includes('"outcome":"retry"') || l.includes('batch not committed')).length, 0, 'recovered inside the call');
    } finally {
      await w.stop();
    }
  });
});

async function deleteAsAdmin(e: DefenderEmulator, id: string): Promise<void> {
  const tok = await fetch(e.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: SECRET, scope: 'https://api.securitycenter.microsoft.com/.default' }),
  });
  const { access_token: token } = (await tok.json()) as { access_token: string };
  const res = await fetch(`${e.url}/api/indicators/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  assert.ok(res.ok, `delete ${id}: ${res.status}`);
}
