// Operator requests on the control topic (octi-defender resync / replay): the active replica of a
// listener following the request's stream acts through Listener#rewrite (the checkpoint), answers
// accepted, then progress while the stream catches up, then done; refused or failed with the
// reason. Every replica sees every request (ControlChannel: a group per replica); standbys stay
// silent. A request applies once: its id is recorded in the checkpoints topic in the transaction
// that applies it, and a repeat is answered done without acting again.
import { randomUUID } from 'node:crypto';
import { ControlChannel, expired, type ControlReply, type ControlRequest, type Kafka } from '@octi-defender/kafka';
import type { Logger } from '@octi-defender/platform';
import type { ListenerConfig } from './config.ts';
import type { RewriteOutcome } from './checkpoint-change.ts';
import type { Listener, StreamPosition } from './listener.ts';
import type { ListenerMetrics } from './metrics.ts';
import { operatorResync, replayCheckpoint, replayGoal, replayReached, resyncCheckpoint, resyncFinished } from './rewind.ts';

/** How often the completion of an applied request is checked, and progress reported. */
const POLL_MS = 500;
const PROGRESS_EVERY_MS = 5000;

type ControlSettings = Pick<ListenerConfig, 'groupId' | 'controlTopic' | 'streamIds' | 'startFrom'>;

export class ListenerControl {
  readonly #cfg: ControlSettings;
  readonly #listener: Listener;
  readonly #log: Logger;
  readonly #metrics: ListenerMetrics;
  readonly #channel: ControlChannel;
  readonly #work = new Set<Promise<void>>();
  #closed = false;

  constructor(cfg: ControlSettings, deps: { kafka: Kafka; listener: Listener; logger: Logger; metrics: ListenerMetrics; instance?: string }) {
    this.#cfg = cfg;
    this.#listener = deps.listener;
    this.#log = deps.logger;
    this.#metrics = deps.metrics;
    const instance = deps.instance ?? `stream-listener-${randomUUID().slice(0, 8)}`;
    this.#channel = new ControlChannel(deps.kafka, {
      topic: cfg.controlTopic,
      groupId: `${cfg.groupId}.control.${instance}`,
      service: 'stream-listener',
      instance,
      onRequest: (request) => this.#consider(request),
    });
  }

  start(): Promise<void> {
    return this.#channel.start();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#channel.stopReading();
    await Promise.allSettled([...this.#work]);
    await this.#channel.close();
  }

  #consider(request: ControlRequest): void {
    if (request.action !== 'resync' && request.action !== 'replay') return;
    if (request.stream === undefined || !this.#cfg.streamIds.includes(request.stream)) return;
    // The active replica answers for the deployment; standbys stay silent.
    if (!this.#listener.acting) return;
    const work = this.#handle(request).catch((err: unknown) => {
      this.#metrics.operatorRequests.inc({ action: request.action, outcome: 'failed' });
      this.#log.error({ err, requestId: request.requestId }, 'operator request failed');
      return this.#reply(request, 'failed', err instanceof Error ? err.message : String(err)).catch(() => undefined);
    });
    this.#work.add(work);
    void work.finally(() => this.#work.delete(work));
  }

  async #handle(request: ControlRequest): Promise<void> {
    const stream = request.stream as string;
    this.#log.warn({ requestId: request.requestId, action: request.action, stream, from: request.from }, 'operator request');
    await this.#reply(request, 'accepted', `${request.action} of stream ${stream} accepted by the active listener`);
    const now = new Date();
    if (request.action === 'resync') {
      const resync = operatorResync(now);
      const result = await this.#listener.rewrite(request.requestId, (id, current) => (id === stream ? resyncCheckpoint(id, current, resync, now) : undefined));
      if (!(await this.#settled(request, result))) return;
      await this.#until(request, () => resyncFinished(this.#position(stream), resync.epoch), () => `resync epoch ${resync.epoch}: ${this.#describe(stream)}`);
      await this.#reply(request, 'done', `stream ${stream} resynced: its current state replayed and the writers told to retract what it no longer asserts`, {
        epoch: resync.epoch,
        position: this.#position(stream)?.checkpoint?.lastEventId,
      });
      return;
    }
    const target = { from: request.from as string };
    const result = await this.#listener.rewrite(request.requestId, (id, current) => (id === stream ? replayCheckpoint(id, current, target, { startFrom: this.#cfg.startFrom, now }) : undefined));
    if (!(await this.#settled(request, result))) return;
    const goal = replayGoal(result.outcome === 'applied' ? result.before.get(stream) : undefined, target);
    await this.#until(request, () => replayReached(this.#position(stream), goal), () => `replaying from ${target.from} back to ${goal}: ${this.#describe(stream)}`);
    await this.#reply(request, 'done', `stream ${stream} replayed from ${target.from}; back at ${this.#position(stream)?.checkpoint?.lastEventId ?? goal}`, {
      from: target.from,
      goal,
      position: this.#position(stream)?.checkpoint?.lastEventId,
    });
  }

  /** Answers a request that will not be followed further; true when it was applied and is under way. */
  async #settled(request: ControlRequest, result: RewriteOutcome): Promise<boolean> {
    this.#metrics.operatorRequests.inc({ action: request.action, outcome: result.outcome });
    switch (result.outcome) {
      case 'applied':
        if (request.action === 'resync' && request.stream !== undefined) this.#metrics.resyncs.inc({ stream: request.stream, reason: 'operator' });
        await this.#reply(request, 'progress', `${request.action} recorded in the checkpoint; the listener restarted from it`);
        return true;
      case 'duplicate':
        await this.#reply(request, 'done', `request ${request.requestId} was applied before: nothing done again`, { duplicate: true });
        return false;
      case 'refused':
        await this.#reply(request, 'refused', result.reason);
        return false;
      case 'not-active':
        await this.#reply(request, 'failed', 'this replica lost the lease before acting: send the request again');
        return false;
    }
  }

  /** Waits for `done`, reporting progress; gives up at the request's expiry or when this replica stops being active. */
  async #until(request: ControlRequest, done: () => boolean, progress: () => string): Promise<void> {
    let lastReport = Date.now();
    for (;;) {
      if (done()) return;
      if (this.#closed || expired(request, new Date())) throw new Error(`${request.action} still under way when the request expired: ${progress()}`);
      if (this.#listener.role === 'closed') throw new Error('the listener stopped');
      if (Date.now() - lastReport >= PROGRESS_EVERY_MS) {
        lastReport = Date.now();
        await this.#reply(
          request,
          'progress',
          this.#listener.role === 'active' ? progress() : 'this replica is not active at the moment (failover or restart); the active one continues from the checkpoint',
        );
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  #position(stream: string): StreamPosition | undefined {
    return this.#listener.positions()?.find((p) => p.streamId === stream);
  }

  #describe(stream: string): string {
    const p = this.#position(stream);
    if (!p) return 'waiting for the listener to be active';
    return `at ${p.checkpoint?.lastEventId ?? p.resumeFrom ?? 'start'}${p.resync ? ' (resync replay running)' : ''}`;
  }

  #reply(request: ControlRequest, status: ControlReply['status'], detail: string, data?: Record<string, unknown>): Promise<void> {
    return this.#channel.reply(request, { status, detail, ...(request.stream !== undefined ? { stream: request.stream } : {}), ...(data ? { data } : {}) });
  }
}
