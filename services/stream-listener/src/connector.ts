// The listener as a registered OpenCTI stream connector (on when CONNECTOR_ID is set): the active
// replica registers with registerConnector as pycti does, pings every LISTENER_CONNECTOR_PING_MS
// (pycti: 40 s) with its checkpoints as the connector state, and honours a reset made in OpenCTI's
// UI as a replay from the configured start (Listener#rewrite, the path of `octi-defender replay`).
// OpenCTI's API being unreachable never touches the stream: failures are logged and retried.
import { randomUUID } from 'node:crypto';
import type { Logger } from '@octi-defender/platform';
import { Agent, fetch as undiciFetch } from 'undici';
import type { ListenerConfig } from './config.ts';
import { connectorState, judgePing, resetAtRegistration } from './connector-state.ts';
import type { Listener } from './listener.ts';
import type { ListenerMetrics } from './metrics.ts';
import { replayCheckpoint, resetTarget } from './rewind.ts';

// pycti's documents (verbatim in libs/emulators/test/opencti-connectors.test.ts), trimmed to the
// fields the listener reads.
const REGISTER = `mutation RegisterConnector($input: RegisterConnectorInput) {
  registerConnector(input: $input) { id connector_state connector_user_id }
}`;
const PING = `mutation PingConnector($id: ID!, $state: String, $connectorInfo: ConnectorInfoInput) {
  pingConnector(id: $id, state: $state, connectorInfo: $connectorInfo) { id connector_state }
}`;
/** pycti's ConnectorInfo of a stream connector (run_and_terminate false, nothing buffered). */
const CONNECTOR_INFO = { run_and_terminate: false, buffering: false, queue_threshold: 500, queue_messages_size: 0, next_run_datetime: null, last_run_datetime: null };

type ConnectorSettings = Pick<ListenerConfig, 'openctiUrl' | 'openctiToken' | 'openctiSslVerify' | 'connectorId' | 'connectorName' | 'connectorScope' | 'connectorPingMs' | 'startFrom' | 'recover'>;

export class OpenCtiApiError extends Error {
  override readonly name = 'OpenCtiApiError';
}

/** A GraphQL call to OpenCTI with the bearer token (never in an error or a log). */
export async function openctiGraphql(
  settings: Pick<ConnectorSettings, 'openctiUrl' | 'openctiToken'>,
  agent: Agent,
  query: string,
  variables: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const res = await undiciFetch(new URL('graphql', settings.openctiUrl.endsWith('/') ? settings.openctiUrl : `${settings.openctiUrl}/`), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${settings.openctiToken}` },
    body: JSON.stringify({ query, variables }),
    dispatcher: agent,
    signal: AbortSignal.timeout(30_000),
  });
  if (!res.ok) {
    await res.body?.cancel();
    throw new OpenCtiApiError(`OpenCTI API answered HTTP ${res.status}`);
  }
  const body = (await res.json()) as { data?: Record<string, unknown> | null; errors?: Array<{ message?: string; extensions?: { code?: string } }> };
  if (body.errors && body.errors.length > 0) {
    const e = body.errors[0];
    throw new OpenCtiApiError(`OpenCTI API error${e?.extensions?.code ? ` ${e.extensions.code}` : ''}: ${e?.message ?? 'unknown'}`);
  }
  return body.data ?? {};
}

export class ConnectorPresence {
  readonly #cfg: ConnectorSettings & { connectorId: string };
  readonly #listener: Listener;
  readonly #log: Logger;
  readonly #metrics: ListenerMetrics;
  readonly #agent: Agent;
  #registered = false;
  /** A reset was acted on at registration: the next ping may answer the same reset's ''. */
  #echoPossible = false;
  #failing = false;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;
  /** Successful pings and resets acted on (also in octi_listener_connector_pings_total). */
  pings = 0;
  resets = 0;

  constructor(cfg: ConnectorSettings & { connectorId: string }, deps: { listener: Listener; logger: Logger; metrics: ListenerMetrics; ca?: string }) {
    this.#cfg = cfg;
    this.#listener = deps.listener;
    this.#log = deps.logger;
    this.#metrics = deps.metrics;
    this.#agent = new Agent({ connect: { rejectUnauthorized: cfg.openctiSslVerify, ...(deps.ca ? { ca: deps.ca } : {}) } });
  }

  start(): void {
    const tick = (): void => {
      this.#running = this.#tick().finally(() => {
        if (!this.#closed) this.#timer = setTimeout(tick, this.#cfg.connectorPingMs);
      });
    };
    tick();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#running;
    await this.#agent.close();
  }

  async #tick(): Promise<void> {
    // Only the active replica speaks for the connector; a standby registers when it takes over.
    const positions = this.#listener.positions();
    if (!positions) {
      this.#registered = false;
      return;
    }
    try {
      if (!this.#registered) await this.#register();
      const state = connectorState(this.#listener.positions() ?? positions);
      const data = await this.#call(PING, { id: this.#cfg.connectorId, state, connectorInfo: CONNECTOR_INFO });
      const remote = (data.pingConnector as { connector_state?: unknown } | null)?.connector_state;
      const verdict = judgePing(state, remote, this.#echoPossible);
      this.#echoPossible = false;
      this.pings += 1;
      this.#metrics.connectorPings.inc({ outcome: 'ok' });
      if (this.#failing) this.#log.info('OpenCTI API reachable again; connector pings resumed');
      this.#failing = false;
      if (verdict === 'reset') await this.#reset('reset from OpenCTI (connector state emptied)');
      else if (verdict === 'other') {
        this.#log.warn(
          { connectorId: this.#cfg.connectorId },
          'OpenCTI holds a connector state this listener did not send (another deployment with the same CONNECTOR_ID?); not adopted: the Kafka checkpoint stays the source of truth',
        );
      }
    } catch (err) {
      this.#metrics.connectorPings.inc({ outcome: 'failed' });
      if (!this.#failing) {
        this.#log.warn({ err: err instanceof Error ? err.message : String(err), retryInMs: this.#cfg.connectorPingMs }, 'OpenCTI connector registration or ping failed; the stream goes on, retrying');
      }
      this.#failing = true;
    }
  }

  async #register(): Promise<void> {
    const input = {
      id: this.#cfg.connectorId,
      name: this.#cfg.connectorName,
      type: 'STREAM',
      scope: this.#cfg.connectorScope,
      auto: false,
      auto_update: false,
      enrichment_resolution: 'none',
      only_contextual: false,
      playbook_compatible: false,
      listen_callback_uri: null,
    };
    const data = await this.#call(REGISTER, { input });
    const remote = (data.registerConnector as { connector_state?: unknown } | null)?.connector_state;
    this.#registered = true;
    this.#log.info({ connectorId: this.#cfg.connectorId, name: this.#cfg.connectorName }, 'registered with OpenCTI as a stream connector');
    if (resetAtRegistration(remote)) {
      this.#echoPossible = true;
      await this.#reset('reset from OpenCTI while this listener was not pinging (connector state empty)');
    }
  }

  async #reset(why: string): Promise<void> {
    this.resets += 1;
    this.#metrics.connectorPings.inc({ outcome: 'reset' });
    const target = resetTarget(this.#cfg, new Date());
    this.#log.warn(
      { connectorId: this.#cfg.connectorId, from: target.from, recover: target.recoverUntil ?? 'none' },
      `Connector state has been remotely reset: ${why}; replaying from the configured start`,
    );
    const result = await this.#listener.rewrite(
      `connector-reset:${randomUUID()}`,
      (streamId, current) => replayCheckpoint(streamId, current, target, { startFrom: this.#cfg.startFrom, now: new Date() }),
    );
    if (result.outcome === 'refused') this.#log.warn({ reason: result.reason }, 'the reset from OpenCTI was not applied');
    else if (result.outcome === 'not-active') this.#log.warn('the reset from OpenCTI was not applied: this replica is no longer active (the active one sees it at its registration)');
  }

  #call(query: string, variables: Record<string, unknown>): Promise<Record<string, unknown>> {
    return openctiGraphql(this.#cfg, this.#agent, query, variables);
  }
}
