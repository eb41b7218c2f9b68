// One stream of an active term: its queue and slot (what the publisher commits from) and its
// reader, wired so a reconnection resumes after the last position known complete, trimmed history
// starts a resync, and the reader's states show in the metrics and the log.
import { compareEventIds, EVENT_ID } from '@octi-defender/indicators';
import type { Logger } from '@octi-defender/platform';
import { startPosition, type Checkpoint } from './checkpoint.ts';
import type { ListenerConfig } from './config.ts';
import { EventQueue } from './event-queue.ts';
import type { ListenerMetrics } from './metrics.ts';
import type { StreamSlot } from './publisher.ts';
import type { ReaderState } from './reader-state.ts';
import { historyGap, newResync, type ResyncState } from './resync.ts';
import { StreamReader, type RawStreamEvent, type ReaderStateDetail } from './stream-reader.ts';
import { heartbeatProof, laterOf } from './stream-position.ts';

/**
 * Event data held per stream between the reader and the publisher (on top of the count bound), in
 * characters (≤ 16 MiB: 1 or 2 bytes each). Several rounds' worth: the round in flight and the one
 * being prepared stay queued until they commit, and the reader needs room to read ahead of them.
 */
const QUEUE_MAX_CHARS = 8 * 1024 * 1024;

export interface FollowerDeps {
  readonly cfg: ListenerConfig;
  readonly metrics: ListenerMetrics;
  readonly log: Logger;
  /** OPENCTI_SSL_CA_FILE's content, when set. */
  readonly ca: string | undefined;
}

/** The slot and the (not yet started) reader of `streamId`, starting from its stored `checkpoint`. */
export function followStream(streamId: string, checkpoint: Checkpoint | undefined, now: Date, deps: FollowerDeps): { slot: StreamSlot; reader: StreamReader } {
  const { cfg, metrics, log, ca } = deps;
  const start = startPosition(checkpoint, { startFrom: cfg.startFrom, recover: cfg.recover, now });
  const queue = new EventQueue<RawStreamEvent>(cfg.queueSize, QUEUE_MAX_CHARS, (ev) => ev.data.length);
  // A resync under way resumes (same epoch, replay from the start); a new operator request starts one.
  const request = cfg.resyncRequest;
  const requested = request !== undefined && checkpoint !== undefined && checkpoint.resyncRequest !== request && !checkpoint.resync;
  const resync = checkpoint?.resync ?? (requested ? newResync('operator', now) : undefined);
  const slot: StreamSlot = {
    streamId,
    queue,
    checkpoint,
    recoverUntil: start.recover ?? checkpoint?.recoverUntil,
    startFrom: cfg.startFrom,
    resumeFrom: start.from,
    resync,
    replayed: 0,
    resyncRequest: request ?? checkpoint?.resyncRequest,
  };
  if (resync) resyncStarted(deps, slot, resync, checkpoint?.resync ? 'resuming' : 'operator request');
  log.info({ stream: streamId, from: start.from ?? 'live', recover: start.recover, checkpoint: checkpoint?.lastEventId }, 'stream start position');
  // Reconnections resume after the last position known complete (rules in stream-position.ts),
  // never after the last id seen: events sharing an id must not be cut in half.
  // The greatest id received: resuming from the checkpoint, what it says was seen.
  let lastSeen: string | undefined = start.from === checkpoint?.lastEventId ? laterOf(start.from, checkpoint?.seen) : start.from;
  let waitingSince = 0;
  const reader: StreamReader = new StreamReader({
    baseUrl: cfg.openctiUrl,
    token: cfg.openctiToken,
    streamId,
    listenDelete: cfg.listenDelete,
    noDependencies: cfg.noDependencies,
    withInferences: cfg.withInferences,
    // A resync replays the whole current state, then goes live after its recover date.
    position: () => (slot.resync ? { from: '0-0', recover: slot.resync.recoverUntil } : { from: slot.resumeFrom, recover: slot.recoverUntil }),
    onEvent: (ev) => {
      if (ev.name === 'connected' && !slot.resync) {
        const gap = historyGap(ev.from, lastSeen, ev.data);
        if (gap) {
          metrics.historyGaps.inc({ stream: streamId });
          log.warn(
            { stream: streamId, from: ev.from, firstEventId: gap.firstEventId },
            'OpenCTI no longer holds the events after the checkpoint (trimmed history): deletes in the gap are lost; starting a resync',
          );
          const started = newResync('trimmed_history', new Date());
          slot.resync = started;
          resyncStarted(deps, slot, started, 'trimmed history');
          queueMicrotask(() => reader.reconnect('resync'));
        }
      }
      if (EVENT_ID.test(ev.id)) {
        // A skipped stuck event is given up: resuming from its id reads on after it.
        if (ev.skipped?.reason === 'stuck_position') slot.resumeFrom = laterOf(slot.resumeFrom, ev.id);
        else if (ev.name === 'heartbeat') slot.resumeFrom = laterOf(slot.resumeFrom, heartbeatProof(ev.id));
        else if (lastSeen !== undefined && compareEventIds(ev.id, lastSeen) > 0) slot.resumeFrom = laterOf(slot.resumeFrom, lastSeen);
        if (ev.name !== 'heartbeat') lastSeen = laterOf(lastSeen, ev.id);
      }
      metrics.lastEventTime.set({ stream: streamId }, Date.now() / 1000);
      queue.push(ev);
      metrics.queueDepth.set({ stream: streamId }, queue.size);
    },
    hasRoom: () => queue.hasRoom(),
    waitForRoom: async () => {
      waitingSince = performance.now();
      await queue.waitForRoom();
      metrics.backpressureSeconds.inc({ stream: streamId }, (performance.now() - waitingSince) / 1000);
    },
    backoff: { minMs: cfg.reconnectMinMs, maxMs: cfg.reconnectMaxMs },
    configErrorRetryMs: cfg.configErrorRetryMs,
    heartbeatTimeoutMs: cfg.heartbeatTimeoutMs,
    maxEventBytes: cfg.maxEventBytes,
    maxPositionFailures: cfg.maxPositionFailures,
    tls: { rejectUnauthorized: cfg.openctiSslVerify, ...(ca ? { ca } : {}) },
    onStateChange: (state, detail) => onReaderState(deps, streamId, state, detail),
  });
  return { slot, reader };
}

function resyncStarted({ metrics, log }: FollowerDeps, slot: StreamSlot, resync: ResyncState, why: string): void {
  if (why !== 'resuming') metrics.resyncs.inc({ stream: slot.streamId, reason: resync.reason });
  metrics.resyncActive.set({ stream: slot.streamId }, 1);
  log.warn(
    { stream: slot.streamId, epoch: resync.epoch, reason: resync.reason, recoverUntil: resync.recoverUntil },
    `resync ${why === 'resuming' ? 'resumed' : 'started'} (${why}): replaying the stream's current state`,
  );
}

function onReaderState({ cfg, metrics, log }: FollowerDeps, streamId: string, state: ReaderState, detail: ReaderStateDetail): void {
  metrics.connected.set({ stream: streamId }, state === 'connected' ? 1 : 0);
  // Every change that carries a cause is a reconnection (network, config, watchdog, resync).
  if (detail.cause) metrics.reconnects.inc({ stream: streamId, cause: detail.cause });
  if (state === 'connected') {
    log.info({ stream: streamId }, 'stream connected');
  } else if (state === 'config-error') {
    metrics.configErrors.inc({ stream: streamId, status: String(detail.status) });
    log.error(
      { stream: streamId, status: detail.status, retryInMs: detail.delayMs },
      explainConfigError(detail.status, streamId, cfg.openctiUrl),
    );
  } else if (state === 'backoff') {
    log.warn({ stream: streamId, status: detail.status, reason: detail.message, retryInMs: detail.delayMs }, 'stream disconnected; reconnecting');
  }
}

function explainConfigError(status: number | undefined, streamId: string, url: string): string {
  switch (status) {
    case 401:
      return `OpenCTI refused the stream (401): check OPENCTI_TOKEN, that live stream ${streamId} exists at ${url}, and that the token's user may read it`;
    case 403:
      return `OpenCTI forbids the stream (403): the token's user lacks access to live stream ${streamId}`;
    case 404:
      return `no live stream endpoint (404) at ${url}/stream/${streamId}: check OPENCTI_URL and CONNECTOR_LIVE_STREAM_ID`;
    case 410:
      return `live stream ${streamId} is stopped (410): start it in OpenCTI (Data sharing → Live streams)`;
    default:
      return `OpenCTI refused the stream (${status})`;
  }
}
