// A worker process (listen.workers above 1): it serves requests, and nothing else. The primary
// (workers/primary.ts) reads and compiles the files, and sends each configuration here; this
// process opens its snapshot and pools, binds the client listeners (shared with the other
// workers) and serves. A reload arrives in two steps: prepare (open the next snapshot beside the
// running one, pools reused by key) and then commit or discard, so that every worker serves the
// new configuration or none does. Signals are the primary's: a worker ignores them, so that
// Ctrl-C at a terminal (sent to the whole process group) stops the gateway once, in order.
import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { GatewayMetrics } from '../admin/metrics.js';
import { jwksStatusOf } from '../admin/status.js';
import { applyDelta } from '../config/delta.js';
import { ListenError, Listeners } from '../listeners.js';
import { createLogger } from '../log.js';
import type { Logger } from '../log.js';
import { AccessLog, AccessLogError } from '../proxy/access-log.js';
import { createProxyHandler } from '../proxy/handler.js';
import { openTracing } from '../proxy/tracing.js';
import { SnapshotHolder } from '../snapshot/holder.js';
import { HealthChecks } from '../snapshot/health.js';
import { JwksRefresher } from '../snapshot/jwks.js';
import { isLimitStoreMessage } from '../limits/store.js';
import { LimitStores } from '../snapshot/limits.js';
import { openSnapshot, retireSnapshot } from '../snapshot/snapshot.js';
import { targetStates } from '../proxy/handler.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { LOAD_INTERVAL_MS, WORKER_VARIABLE } from './protocol.js';
import type { AddressLike, FromWorker, ToWorker } from './protocol.js';

/** True in a process node:cluster started for Gatehouse's primary. */
export function isGatehouseWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_VARIABLE] !== undefined;
}

/** Serves until the primary says drain or abort, or goes away; resolves with the exit code. */
export function runWorker(): Promise<number> {
  const number = Number(process.env[WORKER_VARIABLE]);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
  return new Promise((resolve) => {
    let worker: Worker | undefined;
    // One message at a time, in order: a prepare that arrives while booting waits for the boot.
    let queue = Promise.resolve();
    process.on('message', (message: ToWorker) => {
      // The rate-limit counts' answers from the primary (limits/cluster.ts) are their limiter's.
      if (isLimitStoreMessage(message)) return;
      queue = queue.then(async () => {
        if (message.type === 'boot') {
          worker = await Worker.boot(number, message, resolve);
        } else {
          await worker?.handle(message);
        }
      });
    });
    send({ type: 'hello' });
  });
}

function send(message: FromWorker, then?: () => void): void {
  if (!process.connected) return then?.();
  process.send!(message, undefined, undefined, () => then?.());
}

class Worker {
  /** The snapshot a prepare opened, until its commit or discard. */
  #prepared: { readonly id: number; readonly snapshot: Snapshot } | undefined;
  #stopping = false;

  private constructor(
    readonly logger: Logger,
    readonly holder: SnapshotHolder,
    readonly listeners: Listeners,
    readonly accessLog: AccessLog,
    readonly metrics: GatewayMetrics,
    readonly closeTracing: () => Promise<void>,
    readonly exit: (code: number) => void,
  ) {
    setInterval(() => send({ type: 'load', inFlight: listeners.inFlight }), LOAD_INTERVAL_MS).unref();
  }

  static async boot(number: number, message: ToWorker & { type: 'boot' }, exit: (code: number) => void): Promise<Worker | undefined> {
    const { logging } = message;
    const logger = createLogger({ pretty: logging.pretty, color: logging.color, level: logging.level, worker: number });
    const config = applyDelta(message.config);
    let accessLog: AccessLog;
    try {
      accessLog = new AccessLog(logger, config.accessLog);
    } catch (error) {
      if (!(error instanceof AccessLogError)) throw error;
      send({ type: 'boot-failed', kind: 'access-log', message: error.message }, () => exit(1));
      return undefined;
    }
    const tracing = await openTracing(process.env, logger);
    // Memory counts live in the primary; a Redis store is this worker's own connection (the primary logs its state).
    const holder = new SnapshotHolder(openSnapshot(config, message.generation, undefined, new LimitStores('worker')));
    const listeners = new Listeners(holder);
    const metrics = new GatewayMetrics(holder, { role: 'worker', inFlight: () => listeners.inFlight, tunnels: () => listeners.tunnels });
    accessLog.follow(holder);
    let clients: { http: AddressInfo; https: AddressInfo | undefined };
    try {
      clients = await listeners.openClients(
        (proto) => createProxyHandler({ snapshots: holder, accessLog, proto, draining: listeners.draining, onSettled: listeners.settled, onTunnel: listeners.tunnel, observer: metrics.requests, ...(tracing ? { tracing } : {}) }),
        { reusePort: message.reusePort },
      );
    } catch (error) {
      await listeners.closeAll();
      await retireSnapshot(holder.current, undefined, 0);
      const failure: FromWorker =
        error instanceof ListenError
          ? { type: 'boot-failed', kind: 'listen', key: error.role.key, message: error.message }
          : { type: 'boot-failed', kind: 'other', message: (error as Error).message };
      send(failure, () => exit(1));
      return undefined;
    }
    // Each worker checks its targets itself (its suspensions are its own); the timers end with the process.
    new HealthChecks(holder, logger);
    // And fetches the jwks URLs of its APIs itself.
    new JwksRefresher(holder, logger);
    const worker = new Worker(logger, holder, listeners, accessLog, metrics, async () => tracing?.shutdown(), exit);
    send({ type: 'listening', generation: message.generation, http: addressOf(clients.http), https: clients.https && addressOf(clients.https) });
    return worker;
  }

  async handle(message: ToWorker): Promise<void> {
    switch (message.type) {
      case 'prepare':
        return this.#prepare(message);
      case 'commit':
        return this.#commit(message.id);
      case 'discard':
        return this.#discard(message.id);
      case 'announce-stop':
        this.listeners.announceStop();
        return;
      case 'drain':
        return this.#drain(message.timeoutMs);
      case 'abort':
        return this.#abort();
      case 'metrics':
        send({ type: 'metrics', id: message.id, metrics: await this.metrics.registry.getMetricsAsJSON() });
        return;
      case 'state':
        send({
          type: 'state',
          id: message.id,
          state: { pid: process.pid, generation: this.holder.current.generation, inFlight: this.listeners.inFlight, websocketTunnels: this.listeners.tunnels, suspendedTargets: suspendedTargets(this.holder.current), jwks: jwksStatusOf(this.holder.current).filter((j) => 'url' in j) },
        });
        return;
      case 'boot':
        return;
    }
  }

  #prepare({ id, config, base, generation }: ToWorker & { type: 'prepare' }): void {
    if (this.#stopping) return send({ type: 'prepare-failed', id, message: 'it is stopping' });
    const { current } = this.holder;
    if (current.generation !== base) return send({ type: 'prepare-failed', id, message: `it serves generation ${current.generation}, not ${base} which the changes were sent against` });
    try {
      this.#drop();
      this.#prepared = { id, snapshot: openSnapshot(applyDelta(config, current.config), generation, current) };
      send({ type: 'prepared', id });
    } catch (error) {
      send({ type: 'prepare-failed', id, message: (error as Error).message });
    }
  }

  #commit(id: number): void {
    const prepared = this.#prepared;
    if (!prepared || prepared.id !== id) return;
    this.#prepared = undefined;
    const previous = this.holder.current;
    this.holder.swap(prepared.snapshot);
    void retireSnapshot(previous, prepared.snapshot, prepared.snapshot.config.listen.shutdownTimeoutMs);
  }

  #discard(id: number): void {
    if (this.#prepared?.id === id) this.#drop();
  }

  /** Closes the pools a prepared snapshot opened that the running one does not use. */
  #drop(): void {
    const prepared = this.#prepared;
    this.#prepared = undefined;
    if (prepared) void retireSnapshot(prepared.snapshot, this.holder.current, 0);
  }

  async #drain(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    this.#drop();
    const finished = await this.listeners.drain(timeoutMs);
    if (!finished) this.logger.warn({ inFlight: this.listeners.inFlight, timeoutMs }, 'shutdown timeout: closing the connections of requests still in flight');
    const inFlight = this.listeners.inFlight;
    await this.listeners.closeAll();
    await retireSnapshot(this.holder.current, undefined, 1_000);
    await this.accessLog.close();
    await this.closeTracing();
    this.logger.flush();
    send({ type: 'drained', finished, inFlight }, () => this.exit(0));
  }

  async #abort(): Promise<void> {
    this.#stopping = true;
    await this.listeners.closeAll();
    this.accessLog.flush();
    this.logger.flush();
    this.exit(1);
  }
}

function addressOf(address: AddressInfo): AddressLike {
  return { address: address.address, family: address.family, port: address.port };
}

/** The targets of the snapshot's groups that are not available now, with until when and why. */
function suspendedTargets(snapshot: Snapshot): Record<string, unknown>[] {
  const nowMs = Date.now();
  return [...snapshot.endpoints.values()].filter((e) => e.config.group).flatMap((e) => targetStates(e, nowMs).filter((s) => s.state !== 'available'));
}
