// What `npm start` runs and shows, from the environment and from readings (pure parts).
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEnv } from 'node:util';
import { ConfigError } from '@octi-defender/platform';
import { loadListenerConfig } from '../../services/stream-listener/src/config.ts';
import { loadWriterConfig } from '../../services/defender-writer/src/config.ts';
import { loadReporterConfig } from '../../services/sighting-reporter/src/config.ts';
import { listenerEnvironment, planRun, reporterEnvironment, writerEnvironment } from '../start/plan.ts';
import { parseMetrics } from '../start/prom.ts';
import type { Reading } from '../start/scrape.ts';
import { readStatus } from '../start/status.ts';
import { line, screen, summarize } from '../start/view.ts';

const at = { brokers: ['127.0.0.1:9092'], openctiUrl: 'http://127.0.0.1:4000', defenderUrl: 'http://127.0.0.1:4001', listenerPort: 9464, writerPort: 9465 };

test('nothing configured: both emulators, and services configured for them that pass their own validation', () => {
  const plan = planRun({});
  assert.deepEqual(plan, { opencti: 'emulator', defender: 'emulator' });
  const listener = loadListenerConfig(listenerEnvironment({}, plan, at));
  assert.equal(listener.openctiUrl, 'http://127.0.0.1:4000');
  assert.deepEqual(listener.kafkaBrokers, ['127.0.0.1:9092']);
  assert.equal(listener.httpPort, 9464);
  const writer = loadWriterConfig(writerEnvironment({}, plan, at));
  assert.equal(writer.baseUrl, 'http://127.0.0.1:4001');
  assert.equal(writer.httpPort, 9465);
});

test('a configured OpenCTI or Defender replaces its emulator, and the user’s values win over the demo ones', () => {
  const env = { OPENCTI_URL: 'https://opencti.example.com', OPENCTI_TOKEN: 'a-real-token', CONNECTOR_LIVE_STREAM_ID: 'abc', WRITER_TENANT_NAME: 'contoso', HTTP_PORT: '1234' };
  const plan = planRun(env);
  assert.deepEqual(plan, { opencti: 'configured', defender: 'emulator' });
  const listener = listenerEnvironment(env, plan, { ...at, openctiUrl: undefined });
  assert.equal(listener.OPENCTI_URL, 'https://opencti.example.com');
  assert.equal(listener.HTTP_PORT, '9464', 'each service gets its own port');
  assert.equal(writerEnvironment(env, plan, at).WRITER_TENANT_NAME, 'contoso');
  assert.deepEqual(planRun({ MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET: 's3cret-value' }), { opencti: 'emulator', defender: 'configured' });
  assert.equal(
    writerEnvironment({ MICROSOFT_DEFENDER_INTEL_TENANT_ID: 'contoso.onmicrosoft.com' }, { opencti: 'emulator', defender: 'configured' }, at).MICROSOFT_DEFENDER_INTEL_BASE_URL,
    undefined,
    'no emulator URL for a real tenant',
  );
  assert.deepEqual(planRun({ OPENCTI_URL: '  ' }), { opencti: 'emulator', defender: 'emulator' }, 'an empty value is unset');
});

test('--sightings: the reporter gets the writer’s tenant and Entra app and the listener’s OpenCTI, and passes its own validation', () => {
  const plan = planRun({});
  const reporter = loadReporterConfig(reporterEnvironment({}, plan, { ...at, reporterPort: 9466 }));
  assert.equal(reporter.tenantName, 'demo');
  assert.equal(reporter.openctiUrl, 'http://127.0.0.1:4000');
  assert.equal(reporter.baseUrl, 'http://127.0.0.1:4001');
  assert.equal(reporter.httpPort, 9466);
  assert.equal(reporter.pollIntervalMs, 5000, 'the demo polls often');
  const env = {
    WRITER_TENANT_NAME: 'contoso',
    OPENCTI_URL: 'https://opencti.example.com',
    OPENCTI_TOKEN: 't',
    CONNECTOR_LIVE_STREAM_ID: 'x',
    MICROSOFT_DEFENDER_INTEL_TENANT_ID: 'contoso.onmicrosoft.com',
  };
  const configured = reporterEnvironment(env, planRun(env), { ...at, openctiUrl: undefined, defenderUrl: undefined });
  assert.equal(configured.REPORTER_TENANT_NAME, 'contoso');
  assert.equal(configured.OPENCTI_URL, 'https://opencti.example.com');
  assert.equal(configured.REPORTER_POLL_INTERVAL_MS, undefined, 'a real tenant keeps the default interval');
});

test('the view with --sightings: what the reporter read and wrote, and the sightings OpenCTI holds', () => {
  const r: Reading = {
    ...reading(0, '', ''),
    reporter: {
      samples: parseMetrics(
        'octi_reporter_alerts_total{outcome="matched"} 7\nocti_reporter_alerts_total{outcome="unmatched"} 2\nocti_reporter_sightings_written_total{op="create"} 3\nocti_reporter_sightings_written_total{op="update"} 4\n',
      ),
      ready: { ok: true, detail: 'ok' },
    },
    sightings: { total: 3, alerts: 7, entities: 2 },
  };
  const s = summarize([r]);
  assert.deepEqual(s?.sightings, { alerts: { matched: 7, unmatched: 2 }, written: 7, held: { total: 3, alerts: 7, entities: 2 }, ready: { ok: true, detail: 'ok' } });
  assert.match(line(s), / \| sightings 3 \(7 alerts\), alerts matched 7, unmatched 2, reporter ready \| status not run yet$/);
  assert.equal(summarize([reading(0, '', '')])?.sightings, undefined, 'nothing about sightings without the reporter');
});

const reading = (t: number, listener: string, writer: string): Reading => ({
  at: t,
  listener: { samples: parseMetrics(listener), ready: { ok: true, detail: 'ok' } },
  writer: { samples: parseMetrics(writer), ready: { ok: false, detail: 'writer: restoring' } },
  defender: { total: 3, byType: { IpAddress: 2, DomainName: 1 }, byAction: { Block: 2, Audit: 1 } },
});

test('the view: rates over the recent readings, totals by label, Defender holdings against the room other creators leave', () => {
  const first = reading(0, 'octi_listener_events_total{stream="s",event="create"} 10\n', 'defender_api_calls_total{endpoint="import",status="200"} 1\n');
  const last = reading(
    10_000,
    [
      '# HELP octi_listener_events_total x',
      'octi_listener_events_total{stream="s",event="create"} 40',
      'octi_listener_events_total{stream="s",event="update"} 20',
      'octi_listener_events_total{stream="s",event="heartbeat"} 3',
      'octi_listener_commands_total{op="upsert",type="IpAddress"} 7',
      'octi_listener_commands_total{op="retract",type="IpAddress"} 2',
      'octi_listener_dead_letters_total{reason="bad_json"} 1',
    ].join('\n'),
    [
      'defender_api_calls_total{endpoint="import",status="200"} 4',
      'defender_api_calls_total{endpoint="import",status="429"} 1',
      'defender_api_breaker_state 2',
      'octi_writer_cap_capacity 895',
      'octi_writer_tenant_limit 1500',
      'octi_writer_foreign_indicators 605',
      'octi_writer_cap_waiting_keys 1605',
      'octi_writer_consumer_lag{partition="0"} 5',
      'octi_writer_consumer_lag{partition="1"} 1',
    ].join('\n'),
  );
  const s = summarize([first, last]);
  assert.ok(s);
  assert.equal(s.eventsPerSecond, 5);
  assert.deepEqual(s.published, { upsert: 7, retract: 2 });
  assert.deepEqual(s.calls.import, { total: 5, lastMinute: 4, perMinute: 30 });
  assert.equal(s.breaker, 'open');
  assert.equal(s.lag, 6);
  assert.deepEqual(s.deadLetters, { 'listener:bad_json': 1 });
  assert.deepEqual(s.room, { tenantLimit: 1500, foreign: 605, waiting: 1605 });
  assert.match(line(s), / \| room 895 \(limit 1500, others hold 605, 1605 waiting\) \| /);
  assert.match(line(s), /^defender holds 3\/895 indicators \(Block 2, Audit 1\) \| events 5\.0\/s \(60\) \|.* \| listener ready, writer not ready \| status not run yet$/);
  // What `octi-defender status` says, on the line and on the screen.
  const attention = readStatus(
    JSON.stringify({ findings: [{ attention: true, subject: 'tenant demo', message: 'writer paused (breaker open)' }, { attention: false, subject: 'stream s', message: 'at 1-0' }] }),
    1,
  );
  assert.deepEqual(attention, { exitCode: 1, attention: ['tenant demo: writer paused (breaker open)'] });
  assert.match(line(s, attention), / \| status 1 need attention$/);
  assert.match(line(s, readStatus('{"findings":[]}', 0)), / \| status ok$/);
  assert.deepEqual(screen(s, [], [], 1, attention).slice(-2), ['octi-defender status 1 need attention', '  tenant demo: writer paused (breaker open)']);
  assert.deepEqual(readStatus('', 3), { exitCode: 3, attention: ['octi-defender status gave no report'] });
});

test('.env.example copied as it is: both services refuse its ChangeMe placeholders at start', () => {
  const example = parseEnv(readFileSync(new URL('../../.env.example', import.meta.url), 'utf8'));
  const problems = (load: () => unknown): string[] => {
    try {
      load();
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.map((p) => p.split(' ')[0]!);
      throw err;
    }
    return [];
  };
  assert.deepEqual(problems(() => loadListenerConfig(example)), ['OPENCTI_TOKEN', 'CONNECTOR_LIVE_STREAM_ID']);
  assert.deepEqual(problems(() => loadWriterConfig(example)), ['MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET']);
});
