// Prometheus metrics of the reporter (prefix octi_reporter_ from the registry). Label values are
// bounded sets, never free text.
import { Counter, Gauge, type Registry } from '@octi-defender/platform';

export class ReporterMetrics {
  /** Alerts read, by outcome: matched, unmatched (none of our indicators), invalid, too_old, other_source. */
  readonly alerts: Counter<'outcome'>;
  /** Sightings written to OpenCTI: created or updated. */
  readonly sightingsWritten: Counter<'op'>;
  readonly sightingsRefused: Counter<'code'>;
  /** (alert, indicator) pairs left out of a full record. */
  readonly overCap: Counter;
  readonly polls: Counter<'outcome'>;
  readonly ownedListings: Counter;
  readonly ownedIndicators: Gauge;
  readonly records: Gauge;
  /** Seconds between now and the position (how far behind Defender the reporter is). */
  readonly positionAge: Gauge;
  /** 1 while the last OpenCTI write (or identity check) succeeded, 0 after a failure. */
  readonly openctiUp: Gauge;
  /** 1 while the last Defender poll succeeded. */
  readonly defenderUp: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.alerts = new Counter({
      name: 'octi_reporter_alerts_total',
      help: 'Defender alerts read, by outcome (matched, unmatched, invalid, too_old, other_source)',
      labelNames: ['outcome'],
      registers,
    });
    this.sightingsWritten = new Counter({ name: 'octi_reporter_sightings_written_total', help: 'Sightings written to OpenCTI, by operation (create, update)', labelNames: ['op'], registers });
    this.sightingsRefused = new Counter({ name: 'octi_reporter_sightings_refused_total', help: 'Sightings OpenCTI refused for good, by GraphQL error code', labelNames: ['code'], registers });
    this.overCap = new Counter({ name: 'octi_reporter_alerts_over_cap_total', help: 'Alert and indicator pairs left out because the day record holds the most alerts it keeps', registers });
    this.polls = new Counter({ name: 'octi_reporter_polls_total', help: 'Polls of the alerts, by outcome (ok, failed)', labelNames: ['outcome'], registers });
    this.ownedListings = new Counter({ name: 'octi_reporter_owned_listings_total', help: 'Listings of this application’s indicators in Defender', registers });
    this.ownedIndicators = new Gauge({ name: 'octi_reporter_owned_indicators', help: 'Indicators of this application in Defender at the last listing (with an OpenCTI id)', registers });
    this.records = new Gauge({ name: 'octi_reporter_records', help: 'Per-day sighting records held', registers });
    this.positionAge = new Gauge({ name: 'octi_reporter_position_age_seconds', help: 'Age of the polling position (last alert update read)', registers });
    this.openctiUp = new Gauge({ name: 'octi_reporter_opencti_up', help: '1 while OpenCTI accepts the reporter’s writes, 0 after a failure', registers });
    this.defenderUp = new Gauge({ name: 'octi_reporter_defender_up', help: '1 while the last poll of Defender succeeded', registers });
  }
}
