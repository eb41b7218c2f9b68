// HTTP server for probes and metrics: GET /healthz (liveness), GET /readyz (readiness), GET /metrics.
// Checks are plain functions registered by the components that know their own state; /readyz lists
// each check so an operator sees which dependency is missing.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

interface CheckResult {
  readonly ok: boolean;
  readonly detail?: string;
}
type Check = () => CheckResult | boolean;

interface HealthServerOptions {
  readonly port: number;
  readonly host?: string;
  readonly registry: Registry;
}

export class HealthServer {
  readonly #opts: HealthServerOptions;
  readonly #readiness = new Map<string, Check>();
  readonly #liveness = new Map<string, Check>();
  #server: Server | undefined;
  #draining = false;

  constructor(opts: HealthServerOptions) {
    this.#opts = opts;
  }

  /** A dependency the service needs before it takes work (Kafka, OpenCTI, Defender auth…). */
  readiness(name: string, check: Check): this {
    this.#readiness.set(name, check);
    return this;
  }

  /** A condition whose failure means the process should be restarted (never an outage elsewhere). */
  liveness(name: string, check: Check): this {
    this.#liveness.set(name, check);
    return this;
  }

  /** From now on /readyz answers 503, so the orchestrator stops routing to a stopping process. */
  drain(): void {
    this.#draining = true;
  }

  async start(): Promise<number> {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(err instanceof Error ? err.message : 'error');
      });
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        this.#server = undefined;
        // The port is the one setting an operator can change here: name it.
        if (err.code === 'EADDRINUSE') reject(new Error(`port ${this.#opts.port} is already in use: set HTTP_PORT to a free port`, { cause: err }));
        else reject(err);
      });
      server.listen(this.#opts.port, this.#opts.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    switch (path) {
      case '/metrics': {
        const body = await this.#opts.registry.metrics();
        res.writeHead(200, { 'content-type': this.#opts.registry.contentType }).end(body);
        return;
      }
      case '/healthz':
        this.#report(res, this.#liveness, false);
        return;
      case '/readyz':
        this.#report(res, this.#readiness, this.#draining);
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  }

  #report(res: ServerResponse, checks: Map<string, Check>, draining: boolean): void {
    const results: Record<string, CheckResult> = {};
    let ok = !draining;
    for (const [name, check] of checks) {
      let r: CheckResult;
      try {
        const v = check();
        r = typeof v === 'boolean' ? { ok: v } : v;
      } catch (err) {
        r = { ok: false, detail: err instanceof Error ? err.message : String(err) };
      }
      results[name] = r;
      if (!r.ok) ok = false;
    }
    const body = JSON.stringify({ status: ok ? 'ok' : draining ? 'draining' : 'unavailable', checks: results });
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
  }
}
