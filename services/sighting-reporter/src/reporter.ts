// The reporter's loop: restore the position and the per-day records from the compacted topic, then
// poll. One poll reads the custom-indicator alerts updated since the position (less an overlap),
// folds them into the records (distinct alert ids per indicator, where, day), writes every record
// that changed to OpenCTI as one sighting, and only then commits the records and the new position
// in one Kafka transaction. A crash or an OpenCTI outage before the commit leaves position and
// records where they were: the next poll reads the same alerts again and, since a count is the size
// of a set of alert ids and OpenCTI gets absolute values, writes the same sightings again, never
// doubled ones.
import { ProducerFencedError, sightingsTopicDefinition, type Kafka, type OutgoingRecord, type TransactionalProducer } from '@octi-defender/kafka';
import { backoffDelay, type Logger } from '@octi-defender/platform';
import { desired, keyOf, needsWrite, type SightingRecord } from './aggregate.ts';
import { parseAlert, type Alert } from './alert.ts';
import type { AlertsSource } from './alerts-client.ts';
import type { ReporterConfig } from './config.ts';
import { foldAlerts, type FoldResult } from './fold.ts';
import { hasIndicatorEvidence, type OwnedIndex } from './match.ts';
import type { ReporterMetrics } from './metrics.ts';
import { OpenCtiRefusedError, type SightingSink } from './opencti.ts';
import type { OwnedSource } from './owned.ts';
import { decodePosition, decodeRecord, encodePosition, encodeRecord, POSITION_KEY, type Position } from './records.ts';

const DAY_MS = 86_400_000;
const MIN_BACKOFF_MS = 1000;
/**
 * One send per ≤ 512 KiB: a send is one record batch, and the broker refuses a batch over its
 * message.max.bytes (1 MiB by default); a full record (10,000 alert ids) is about 350 KB.
 */
const SEND_CHUNK_BYTES = 512 * 1024;

/** `records` in order, in groups of at most `maxBytes` of keys and values (a larger record alone). */
export function chunkBySize(records: readonly OutgoingRecord[], maxBytes: number): OutgoingRecord[][] {
  const chunks: OutgoingRecord[][] = [];
  let current: OutgoingRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = Buffer.byteLength(r.key) + (r.value === null ? 0 : Buffer.byteLength(r.value));
    if (current.length > 0 && bytes + size > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

interface ReporterDeps {
  readonly kafka: Kafka;
  readonly alerts: AlertsSource;
  readonly owned: OwnedSource;
  readonly opencti: SightingSink;
  readonly logger: Logger;
  readonly metrics: ReporterMetrics;
  /** Wall clock (epoch ms); tests pass the emulators' clock. */
  readonly now?: () => number;
}

type ReporterSettings = Pick<ReporterConfig, 'tenantName' | 'stateTopic' | 'whereName' | 'pollIntervalMs' | 'overlapMs' | 'lookbackMs' | 'ownedRefreshMs' | 'retryMaxMs' | 'retentionDays'>;

interface PollSummary {
  readonly alerts: number;
  readonly matched: number;
  readonly unmatched: number;
  readonly written: number;
  readonly position: string;
}

export class Reporter {
  readonly #cfg: ReporterSettings;
  readonly #d: ReporterDeps;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #records = new Map<string, SightingRecord>();
  #position: Position | undefined;
  #whereId: string | undefined;
  #producer: TransactionalProducer | undefined;
  #owned: OwnedIndex | undefined;
  #ownedAt = Number.NEGATIVE_INFINITY;
  #closed = false;
  #fenced = false;
  #failures = 0;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  readonly #stop = new AbortController();
  #started = false;

  constructor(cfg: ReporterSettings, deps: ReporterDeps) {
    this.#cfg = cfg;
    this.#d = deps;
    this.#log = deps.logger;
    this.#now = deps.now ?? Date.now;
  }

  /** Ready once the state is restored and the where-sighted identity is known. */
  ready(): boolean {
    return this.#started && this.#whereId !== undefined && !this.#closed && !this.#fenced;
  }

  live(): boolean {
    return !this.#closed && !this.#fenced;
  }

  get position(): Position | undefined {
    return this.#position;
  }

  records(): SightingRecord[] {
    return [...this.#records.values()];
  }

  /** Creates the topic if missing, restores the state, then polls until close(). */
  async start(): Promise<void> {
    await this.open();
    this.#loop = this.#run();
  }

  /**
   * Creates the topic if missing, restores the state and takes the producer, without polling: start()
   * does this first; tests call it, then poll() themselves.
   */
  async open(): Promise<void> {
    const admin = await this.#d.kafka.admin();
    try {
      await admin.createTopics([sightingsTopicDefinition(this.#cfg.tenantName, { name: this.#cfg.stateTopic })]);
    } finally {
      await admin.close();
    }
    await this.#restore();
    // The transactional id is the same for every replica of the tenant: a newer reporter fences an older one.
    this.#producer = await this.#d.kafka.transactionalProducer(`sighting-reporter.${this.#cfg.tenantName}`);
    this.#started = true;
  }

  /** Stops polling; a poll in progress finishes its OpenCTI call and is not committed unless done. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    this.#wake?.();
    await this.#loop;
    await this.#producer?.close();
  }

  async #restore(): Promise<void> {
    const values = await this.#d.kafka.readCompacted(this.#cfg.stateTopic);
    let invalid = 0;
    for (const [key, v] of values) {
      if (key === POSITION_KEY) {
        this.#position = decodePosition(v.value);
        continue;
      }
      const r = decodeRecord(v.value);
      if (r && keyOf(r) === key) this.#records.set(key, r);
      else invalid += 1;
    }
    if (invalid > 0) this.#log.warn({ invalid }, 'records of the sightings topic could not be read: they are rebuilt from the alerts still in the polling window');
    this.#d.metrics.records.set(this.#records.size);
    this.#log.info({ records: this.#records.size, position: this.#position?.lastUpdateTime ?? null }, 'sighting state restored');
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      let wait = this.#cfg.pollIntervalMs;
      try {
        const summary = await this.poll();
        this.#d.metrics.polls.inc({ outcome: 'ok' });
        this.#failures = 0;
        if (summary.alerts > 0) this.#log.info(summary, 'poll done');
      } catch (err) {
        if (this.#closed) break;
        if (err instanceof ProducerFencedError) {
          // A newer reporter of this tenant committed with the same transactional id: this one stops
          // (liveness fails, so an orchestrator restarts it) instead of writing OpenCTI for nothing.
          this.#log.error({ err }, 'another sighting-reporter of this tenant took over: stopping');
          this.#fenced = true;
          break;
        }
        this.#failures += 1;
        this.#d.metrics.polls.inc({ outcome: 'failed' });
        wait = backoffDelay({ baseMs: MIN_BACKOFF_MS, maxMs: this.#cfg.retryMaxMs, jitter: 'none', maxDoublings: 20 }, this.#failures - 1);
        this.#log.warn({ err, failures: this.#failures, retryInMs: wait }, 'poll failed: position kept, the same alerts are read again');
      }
      await this.#sleep(wait);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  /** The OpenCTI id of the where-sighted identity, created on the first call that reaches OpenCTI. */
  async #where(): Promise<string> {
    if (this.#whereId !== undefined) return this.#whereId;
    try {
      this.#whereId = await this.#d.opencti.ensureIdentity(
        this.#cfg.whereName,
        `Microsoft Defender for Endpoint tenant ${this.#cfg.tenantName}: where the sightings of its custom-indicator alerts were made`,
      );
    } catch (e) {
      this.#d.metrics.openctiUp.set(0);
      throw e;
    }
    this.#d.metrics.openctiUp.set(1);
    this.#log.info({ whereId: this.#whereId, name: this.#cfg.whereName }, 'where-sighted identity ready');
    return this.#whereId;
  }

  /** One poll (exposed for tests): read, fold, write to OpenCTI, commit. */
  async poll(): Promise<PollSummary> {
    if (!this.#started) throw new Error('reporter not opened');
    const whereId = await this.#where();
    const now = this.#now();
    const positionMs = this.#position ? Date.parse(this.#position.lastUpdateTime) : now - this.#cfg.lookbackMs;
    const since = new Date(Math.max(0, positionMs - (this.#position ? this.#cfg.overlapMs : 0)));
    let raw: unknown[];
    try {
      raw = await this.#d.alerts.listUpdatedSince(since, this.#stop.signal);
      this.#d.metrics.defenderUp.set(1);
    } catch (e) {
      this.#d.metrics.defenderUp.set(0);
      throw e;
    }
    const oldest = now - this.#cfg.retentionDays * DAY_MS;
    const alerts: Alert[] = [];
    // Metrics count an alert once: when it is new since the position (not a re-read of the overlap).
    const fresh = (a: Alert): boolean => !this.#position || Date.parse(a.lastUpdateTime) > positionMs;
    let maxUpdate = positionMs;
    for (const item of raw) {
      const parsed = parseAlert(item);
      if (!parsed.ok) {
        this.#d.metrics.alerts.inc({ outcome: 'invalid' });
        this.#log.warn({ alertId: parsed.id ?? null, reason: parsed.reason }, 'alert skipped: it cannot be counted');
        continue;
      }
      const a = parsed.alert;
      maxUpdate = Math.max(maxUpdate, Date.parse(a.lastUpdateTime));
      if (a.detectionSource !== null && a.detectionSource.toLowerCase() !== 'customerti') {
        if (fresh(a)) this.#d.metrics.alerts.inc({ outcome: 'other_source' });
        continue;
      }
      // A record older than the retention may be gone: counting into a new one would lower OpenCTI's count.
      if (Date.parse(a.firstEventTime) < oldest) {
        if (fresh(a)) this.#d.metrics.alerts.inc({ outcome: 'too_old' });
        continue;
      }
      alerts.push(a);
    }
    let fold = foldAlerts((k) => this.#records.get(k), alerts, await this.#ownedIndex(false), whereId);
    // Evidence that matches nothing may be an indicator imported since the last listing.
    if (fold.unmatched.some(hasIndicatorEvidence) && now - this.#ownedAt >= this.#cfg.ownedRefreshMs) {
      fold = foldAlerts((k) => this.#records.get(k), alerts, await this.#ownedIndex(true), whereId);
    }
    this.#count(fold, alerts.filter(fresh));
    const changed = new Map<string, SightingRecord>();
    for (const [key, record] of fold.changed) changed.set(key, await this.#write(record));
    // Records whose day left the retention are deleted with the same commit.
    const expired = [...this.#records.values()].filter((r) => Date.parse(`${r.day}T23:59:59.999Z`) < oldest).map(keyOf);
    const position: Position = { lastUpdateTime: new Date(maxUpdate).toISOString(), updatedAt: new Date(now).toISOString() };
    await this.#commit(changed, expired, position);
    for (const [key, record] of changed) this.#records.set(key, record);
    for (const key of expired) this.#records.delete(key);
    this.#position = position;
    this.#d.metrics.records.set(this.#records.size);
    this.#d.metrics.positionAge.set(Math.max(0, (now - maxUpdate) / 1000));
    return { alerts: raw.length, matched: fold.matched, unmatched: fold.unmatched.length, written: changed.size, position: position.lastUpdateTime };
  }

  /** Outcomes of the alerts new since the position (re-read ones were counted by an earlier poll). */
  #count(fold: FoldResult, fresh: readonly Alert[]): void {
    const unmatched = new Set(fold.unmatched.map((a) => a.id));
    for (const a of fresh) {
      const skipped = unmatched.has(a.id);
      this.#d.metrics.alerts.inc({ outcome: skipped ? 'unmatched' : 'matched' });
      if (skipped) this.#log.debug({ alertId: a.id }, 'alert skipped: its evidence matches none of our indicators');
    }
    if (fold.overCap > 0) this.#d.metrics.overCap.inc(fold.overCap);
  }

  async #ownedIndex(refresh: boolean): Promise<OwnedIndex> {
    if (this.#owned && !refresh) return this.#owned;
    const index = await this.#d.owned.load(this.#stop.signal);
    this.#owned = index;
    this.#ownedAt = this.#now();
    this.#d.metrics.ownedListings.inc();
    this.#d.metrics.ownedIndicators.set([...index.values()].reduce((n, s) => n + s.size, 0));
    return index;
  }

  /** The record as OpenCTI now holds it; a refusal is recorded in it (and not retried). */
  async #write(record: SightingRecord): Promise<SightingRecord> {
    if (!needsWrite(record, this.#cfg.tenantName)) return record;
    const d = desired(record, this.#cfg.tenantName);
    try {
      const written = await this.#d.opencti.write(d, record.written?.id);
      this.#d.metrics.openctiUp.set(1);
      this.#d.metrics.sightingsWritten.inc({ op: written.created ? 'create' : 'update' });
      const { created: _created, ...held } = written;
      return { ...record, written: held };
    } catch (e) {
      if (e instanceof OpenCtiRefusedError) {
        this.#d.metrics.sightingsRefused.inc({ code: e.code });
        this.#log.warn({ indicatorId: record.indicatorId, day: record.day, code: e.code, reason: e.message }, 'OpenCTI refused the sighting: recorded, not retried');
        return { ...record, refused: e.message };
      }
      this.#d.metrics.openctiUp.set(0);
      throw e;
    }
  }

  async #commit(changed: ReadonlyMap<string, SightingRecord>, expired: readonly string[], position: Position): Promise<void> {
    const producer = this.#producer;
    if (!producer) throw new Error('reporter not started');
    const topic = this.#cfg.stateTopic;
    const records: OutgoingRecord[] = [
      ...[...changed].map(([key, r]) => ({ topic, key, value: encodeRecord(r) })),
      ...expired.map((key) => ({ topic, key, value: null })),
      { topic, key: POSITION_KEY, value: encodePosition(position) },
    ];
    await producer.transaction(async (tx) => {
      for (const chunk of chunkBySize(records, SEND_CHUNK_BYTES)) await tx.send(chunk);
    });
  }
}
