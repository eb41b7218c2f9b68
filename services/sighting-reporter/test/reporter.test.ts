// The reporter against a real Kafka broker and both emulators over HTTP: alerts on our indicators
// become one sighting per (indicator, where, day) with the number of distinct alerts; a restart, a
// replay of the same alerts, a lost state, an OpenCTI outage never double or lose a count.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { metricTotal } from '@octi-defender/platform';
import { daySightingId } from '../src/sighting-id.ts';
import { OpenCtiUnavailableError } from '../src/opencti.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { openReporter, ourIndicator, OTHER_CLIENT, reporterEnv, uniqueTopic, world, type World } from './helpers.ts';

const MIN = 60_000;

describe('sighting-reporter against Kafka and the emulators', () => {
  let w: World;
  before(async () => {
    w = await world();
  });
  after(() => w.close());

  test('alerts become one sighting per (indicator, where, day); replays, restarts and a lost state never double a count', async () => {
    const topic = uniqueTopic();
    const a = ourIndicator(w, '45.33.32.1');
    const b = ourIndicator(w, '45.33.32.2');
    ourIndicator(w, '45.33.32.3', { clientId: OTHER_CLIENT });
    // Three alerts on A (two devices), one on B the next day, one on another application's indicator.
    const a1 = w.mde.raiseAlert({ indicatorValue: '45.33.32.1', indicatorType: 'IpAddress', computerDnsName: 'pc1', eventTime: '2026-12-05T09:00:00Z' });
    w.mde.raiseAlert({ indicatorValue: '45.33.32.1', indicatorType: 'IpAddress', computerDnsName: 'pc2', eventTime: '2026-12-05T09:30:00Z' });
    w.mde.raiseAlert({ indicatorValue: '45.33.32.1', indicatorType: 'IpAddress', computerDnsName: 'pc1', eventTime: '2026-12-05T09:45:00Z' });
    w.mde.raiseAlert({ indicatorValue: '45.33.32.2', indicatorType: 'IpAddress', eventTime: '2026-12-04T23:59:00Z' });
    w.mde.raiseAlert({ indicatorValue: '45.33.32.3', indicatorType: 'IpAddress' });

    const env = reporterEnv(w, topic);
    let r = await openReporter(w, env);
    const first = await r.reporter.poll();
    assert.deepEqual([first.alerts, first.matched, first.unmatched, first.written], [5, 4, 1, 2]);
    assert.equal(await metricTotal(r.registry, 'octi_reporter_alerts_total', { outcome: 'unmatched' }), 1);
    const [where] = w.octi.identities();
    assert.equal(where?.name, 'Microsoft Defender for Endpoint (contoso)');
    assert.equal(where?.entity_type, 'System');
    const byFrom = () => new Map(w.octi.sightings().map((s) => [`${s.from.id}|${s.first_seen.slice(0, 10)}`, s]));
    let sightings = byFrom();
    assert.equal(sightings.size, 2);
    const sa = sightings.get(`${a.openctiId}|2026-12-05`)!;
    assert.deepEqual([sa.attribute_count, sa.first_seen, sa.last_seen, sa.to.id], [3, '2026-12-05T09:00:00.000Z', '2026-12-05T09:45:00.000Z', where.id]);
    assert.equal(sa.standard_id, daySightingId(a.openctiId, where.id, '2026-12-05'));
    assert.match(sa.description ?? '', /3 alerts .* on 2026-12-05 \(UTC\)\. Devices: pc1, pc2\.$/);
    assert.equal(sightings.get(`${b.openctiId}|2026-12-04`)?.attribute_count, 1);

    // The same alerts read again (the overlap) change nothing in OpenCTI.
    w.advance(MIN);
    const again = await r.reporter.poll();
    assert.equal(again.written, 0);
    assert.equal(await metricTotal(r.registry, 'octi_reporter_sightings_written_total'), 2);

    // A restart restores position and records from the topic: a new alert adds one, nothing doubles.
    await r.close();
    r = await openReporter(w, env);
    assert.equal(r.reporter.records().length, 2);
    w.advance(MIN);
    w.mde.raiseAlert({ indicatorValue: '45.33.32.1', indicatorType: 'IpAddress', computerDnsName: 'pc3', eventTime: '2026-12-05T10:01:00Z' });
    // The event of an alert already counted happens again: last seen moves, the count does not.
    w.mde.repeatAlert(a1.id, '2026-12-05T10:02:00Z');
    const third = await r.reporter.poll();
    assert.equal(third.written, 1);
    sightings = byFrom();
    assert.equal(sightings.size, 2);
    assert.deepEqual([sightings.get(`${a.openctiId}|2026-12-05`)?.attribute_count, sightings.get(`${a.openctiId}|2026-12-05`)?.last_seen], [4, '2026-12-05T10:02:00.000Z']);
    await r.close();

    // The whole state lost (a new topic): rebuilt from the alerts; OpenCTI's create upserts on the
    // same stix id and the counts are set, not added.
    const lost = await openReporter(w, reporterEnv(w, uniqueTopic(), { REPORTER_INITIAL_LOOKBACK_MS: String(86_400_000) }));
    await lost.reporter.poll();
    sightings = byFrom();
    assert.equal(sightings.size, 2);
    assert.equal(sightings.get(`${a.openctiId}|2026-12-05`)?.attribute_count, 4);
    assert.equal(sightings.get(`${b.openctiId}|2026-12-04`)?.attribute_count, 1);
    assert.ok(lost.logs.every((l) => !l.includes('reporter-secret') && !l.includes('reporter-octi-token')), 'no secret in the logs');
    await lost.close();
  });

  test('OpenCTI unreachable: the poll fails, the position stays, the next poll writes the alerts of both', async () => {
    const topic = uniqueTopic();
    const c = ourIndicator(w, '45.33.32.10');
    const r = await openReporter(w, reporterEnv(w, topic));
    try {
      w.advance(MIN);
      await r.reporter.poll();
      const position = r.reporter.position;
      w.octi.setGraphqlDown(503);
      w.advance(MIN);
      w.mde.raiseAlert({ indicatorValue: '45.33.32.10', indicatorType: 'IpAddress' });
      await assert.rejects(r.reporter.poll(), OpenCtiUnavailableError);
      assert.deepEqual(r.reporter.position, position, 'the position did not move');
      assert.equal(await metricTotal(r.registry, 'octi_reporter_opencti_up'), 0);
      w.advance(MIN);
      w.mde.raiseAlert({ indicatorValue: '45.33.32.10', indicatorType: 'IpAddress' });
      w.octi.setGraphqlDown(undefined);
      await r.reporter.poll();
      const mine = w.octi.sightings().filter((s) => s.from.id === c.openctiId);
      assert.equal(mine.length, 1);
      assert.equal(mine[0]?.attribute_count, 2);
      assert.equal(await metricTotal(r.registry, 'octi_reporter_opencti_up'), 1);
    } finally {
      await r.close();
    }
  });

  test('an indicator imported after the last listing is found by a new listing; a URL alert sights its domain indicator', async () => {
    const r = await openReporter(w, reporterEnv(w, uniqueTopic(), { REPORTER_OWNED_REFRESH_MS: '1000' }));
    try {
      await r.reporter.poll();
      const listings = await metricTotal(r.registry, 'octi_reporter_owned_listings_total');
      const d = ourIndicator(w, 'evil-sightings.net', { type: 'DomainName' });
      w.advance(MIN);
      w.mde.raiseAlert({ indicatorValue: 'evil-sightings.net', indicatorType: 'DomainName', evidence: [{ entityType: 'Url', url: 'https://cdn.evil-sightings.net/payload.bin' }] });
      const summary = await r.reporter.poll();
      assert.equal(await metricTotal(r.registry, 'octi_reporter_owned_listings_total'), listings + 1);
      assert.equal(summary.matched >= 1, true);
      const mine = w.octi.sightings().filter((s) => s.from.id === d.openctiId);
      assert.equal(mine.length, 1);
      assert.equal(mine[0]?.attribute_count, 1);
    } finally {
      await r.close();
    }
  });

  test('a second reporter of the tenant fences the first: it stops (not live), the second one counts, nothing doubles', async () => {
    const topic = uniqueTopic();
    const e = ourIndicator(w, '45.33.32.30');
    const env = reporterEnv(w, topic, { REPORTER_POLL_INTERVAL_MS: '1000' });
    const first = await openReporter(w, env, { start: true });
    const second = await openReporter(w, env);
    try {
      w.advance(MIN);
      w.mde.raiseAlert({ indicatorValue: '45.33.32.30', indicatorType: 'IpAddress' });
      const until = Date.now() + 30_000;
      while (first.reporter.live() && Date.now() < until) await sleep(100);
      assert.equal(first.reporter.live(), false, 'the fenced reporter stopped');
      assert.ok(first.logs.some((l) => l.includes('another sighting-reporter of this tenant took over')));
      await second.reporter.poll();
      const mine = w.octi.sightings().filter((s) => s.from.id === e.openctiId);
      assert.equal(mine.length, 1);
      assert.equal(mine[0]?.attribute_count, 1);
    } finally {
      await first.close();
      await second.close();
    }
  });
});
