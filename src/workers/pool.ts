// The worker processes of a primary: started, kept serving the configuration the primary serves,
// replaced when they exit, asked for their metrics and state, stopped. Also the all-or-none
// reload (ReloadParticipants): every worker prepares the next snapshot, and all commit or all
// discard. A worker started while a reload is being prepared would miss it, so replacements wait
// for the reload to be decided, and then start with the configuration served.
import cluster from 'node:cluster';
import type { Worker as ClusterWorker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import { writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry } from 'prom-client';
import { isLimitStoreMessage } from '../limits/store.js';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { encodeDelta } from '../config/delta.js';
import { destinationOf } from '../log.js';
import type { Logger } from '../log.js';
import type { ReloadParticipants } from '../reload/reloader.js';
import type { SnapshotHolder } from '../snapshot/holder.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { balancingFor } from './balance.js';
import type { Balancing } from './balance.js';
import { forwardLines } from './output.js';
import { WORKER_VARIABLE } from './protocol.js';
import type { AddressLike, FromWorker, ToWorker, WorkerLogging } from './protocol.js';
import type { JwksStatus } from '../admin/status.js';

/** bin/gatehouse.js, from dist/workers/ (or src/workers/ under tsx: the bin then runs dist/, built). */
const GATEHOUSE_BIN = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url));

/** A worker must answer a prepare within this; else the reload is refused by all. */
export const PREPARE_TIMEOUT_MS = 5_000;
/** Starting a worker (its modules, its snapshot, its listeners) may take this long. */
const BOOT_TIMEOUT_MS = 30_000;
/** /status and /metrics wait this long for each worker; one that does not answer is left out. */
const ASK_TIMEOUT_MS = 2_000;
/** A worker that lived less than this before exiting is restarted after a growing delay (a crash loop). */
const STABLE_MS = 10_000;
const MAX_RESTART_DELAY_MS = 30_000;
/** After the drain's deadline, the workers still running are given this long to close, then killed. */
const DRAIN_GRACE_MS = 5_000;

/** A worker failed to start: a listener could not bind, the access log file could not be opened. */
export class WorkerBootError extends Error {
  constructor(
    readonly kind: 'listen' | 'access-log' | 'other',
    message: string,
    readonly key?: string,
    /** It exited while starting (its exit says how). */
    readonly exited = false,
  ) {
    super(message);
    this.name = 'WorkerBootError';
  }
}

/** One worker as /status shows it. */
export interface WorkerStatus {
  readonly worker: number;
  readonly pid: number | undefined;
  /** serving, starting (a replacement), restarting (waiting to start again), or not-answering. */
  readonly state: 'serving' | 'starting' | 'restarting' | 'not-answering';
  readonly generation: number | undefined;
  readonly inFlight: number;
  readonly websocketTunnels?: number;
  /** Targets of endpoint groups suspended in this worker (each worker keeps its own states). */
  readonly suspendedTargets?: readonly Record<string, unknown>[];
  readonly jwks?: readonly JwksStatus[];
  /** Times this worker exited unexpectedly and was replaced. */
  readonly restarts: number;
  readonly startedAt: string | undefined;
}

interface Running {
  readonly process: ClusterWorker;
  readonly pid: number;
  readonly startedAt: Date;
  readonly exited: Promise<string>;
  state: 'starting' | 'serving';
}

interface Slot {
  readonly number: number;
  running: Running | undefined;
  generation: number | undefined;
  inFlight: number;
  restarts: number;
  /** Exits in a row that came within STABLE_MS of the start. */
  quickExits: number;
  timer: NodeJS.Timeout | undefined;
}

export interface WorkerPoolOptions {
  readonly size: number;
  readonly holder: SnapshotHolder;
  readonly logger: Logger;
  readonly logging: WorkerLogging;
}

interface PoolEvents {
  /** A worker exited unexpectedly with `lost` requests in flight; a replacement is on its way. */
  restarted: [lost: number];
}

type Answer = FromWorker & { readonly id: number };

export class WorkerPool extends EventEmitter<PoolEvents> implements ReloadParticipants {
  readonly #options: WorkerPoolOptions;
  readonly #slots: Slot[];
  readonly balancing: Balancing;
  #stopping = false;
  /** Until every worker of the start listens, an exit fails the start instead of being replaced. */
  #started = false;
  #nextId = 1;
  /** The reload being prepared: replacements wait for it to be decided. */
  #deciding: Promise<void> | undefined;
  #decided: (() => void) | undefined;
  #prepareId = 0;
  readonly #answers = new Map<string, (answer: Answer | undefined) => void>();
  readonly #write: (text: string) => void;
  /** What the last scrape got from each worker, by pid. */
  readonly #lastScraped = new Map<number, Metrics>();
  /** The counters of the workers replaced since the start (see metrics()). */
  #departed: Metrics[] = [];
  readonly #backlog: () => number;

  constructor(options: WorkerPoolOptions) {
    super();
    this.#options = options;
    this.#slots = Array.from({ length: options.size }, (_, i) => ({ number: i + 1, running: undefined, generation: undefined, inFlight: 0, restarts: 0, quickExits: 0, timer: undefined }));
    const { balancing, fallback } = balancingFor(options.holder.current.config, process.env);
    this.balancing = balancing;
    if (fallback) options.logger.warn({ balancing }, `${fallback}: the workers share the ports through node:cluster's round robin`);
    const destination = destinationOf(options.logger);
    this.#write = destination ? (text) => destination.writeFormatted(text) : (text) => void process.stdout.write(text);
    this.#backlog = destination ? () => destination.backlog : () => 0;
    // The workers run the installed command, whatever started the primary (npm's wrapper, a test
    // runner, a supervisor's script); `run` alone: the configuration comes from the primary.
    cluster.setupPrimary({ exec: GATEHOUSE_BIN, args: ['run'], serialization: 'advanced', silent: true });
    cluster.schedulingPolicy = cluster.SCHED_RR;
  }

  get size(): number {
    return this.#slots.length;
  }

  /** Requests in flight on all workers, as each last said (every half second). */
  get inFlight(): number {
    return this.#slots.reduce((sum, slot) => sum + (slot.running ? slot.inFlight : 0), 0);
  }

  /** Starts every worker; resolves once all listen, with the addresses they listen on. */
  async start(): Promise<{ http: AddressLike; https: AddressLike | undefined }> {
    const started = await Promise.all(this.#slots.map((slot) => this.#fork(slot)));
    this.#started = true;
    return started[0]!;
  }

  // ------------------------------------------------------------------ reloads, all or none

  async prepare(next: Snapshot): Promise<string | undefined> {
    const id = ++this.#prepareId;
    this.#deciding = new Promise((resolve) => (this.#decided = resolve));
    const { current } = this.#options.holder;
    const message: ToWorker = { type: 'prepare', id, config: encodeDelta(next.config, current.config), base: current.generation, generation: next.generation };
    const replies = await Promise.all(
      this.#slots.map(async (slot): Promise<string | undefined> => {
        const running = slot.running;
        if (!running) return undefined; // waiting to restart: it starts with whatever is decided
        const answer = await this.#ask(running, message, PREPARE_TIMEOUT_MS);
        if (answer === undefined) return `worker ${slot.number} (pid ${running.pid}) did not answer within ${PREPARE_TIMEOUT_MS / 1000} s`;
        if (typeof answer === 'string') return `worker ${slot.number} (pid ${running.pid}) ${answer} while preparing generation ${next.generation}`;
        if (answer.type === 'prepare-failed') return `worker ${slot.number} (pid ${running.pid}) could not prepare generation ${next.generation}: ${answer.message}`;
        return undefined;
      }),
    );
    return replies.find((reply) => reply !== undefined);
  }

  commit(next: Snapshot): void {
    for (const slot of this.#slots) {
      if (!slot.running) continue;
      this.#send(slot.running, { type: 'commit', id: this.#prepareId });
      slot.generation = next.generation;
    }
    this.#decide();
  }

  discard(): void {
    for (const slot of this.#slots) if (slot.running) this.#send(slot.running, { type: 'discard', id: this.#prepareId });
    this.#decide();
  }

  #decide(): void {
    this.#deciding = undefined;
    this.#decided?.();
  }

  // ------------------------------------------------------------------ admin

  /**
   * Each serving worker's registry (getMetricsAsJSON), for one summed scrape, and the counters of
   * the workers replaced since the start as the last scrape saw them: without them, a summed
   * counter would drop when a worker is replaced, which Prometheus reads as a reset (and rate()
   * as a spike of the whole remaining sum). What a replaced worker counted after the last scrape
   * is lost: Prometheus never saw it.
   */
  async metrics(): Promise<Metrics[]> {
    const answers = await Promise.all(
      this.#slots.map(async (slot) => {
        const running = slot.running;
        if (running?.state !== 'serving') return undefined;
        const answer = await this.#ask(running, { type: 'metrics', id: this.#nextId++ }, ASK_TIMEOUT_MS);
        if (typeof answer !== 'object' || answer.type !== 'metrics') return undefined;
        this.#lastScraped.set(running.pid, answer.metrics);
        return answer.metrics;
      }),
    );
    return [...answers.filter((metrics) => metrics !== undefined), ...this.#departed];
  }

  /** Keeps what the last scrape saw of a replaced worker's counters and histograms (metrics()). */
  #keepCounts(pid: number): void {
    const last = this.#lastScraped.get(pid);
    this.#lastScraped.delete(pid);
    if (!last) return;
    // MetricType is declared an enum; at run time getMetricsAsJSON gives the text Prometheus shows.
    const counts = last.filter((metric) => ['counter', 'histogram'].includes(String(metric.type as unknown)));
    // One entry for all replaced workers: summed as they come, so that the list does not grow.
    this.#departed = this.#departed.length === 0 ? [counts] : [sumMetrics([...this.#departed, counts])];
  }

  async states(): Promise<WorkerStatus[]> {
    return Promise.all(
      this.#slots.map(async (slot): Promise<WorkerStatus> => {
        const running = slot.running;
        const base = { worker: slot.number, restarts: slot.restarts, startedAt: running?.startedAt.toISOString() };
        if (!running) return { ...base, pid: undefined, state: 'restarting', generation: undefined, inFlight: 0 };
        if (running.state === 'starting') return { ...base, pid: running.pid, state: 'starting', generation: undefined, inFlight: 0 };
        const answer = await this.#ask(running, { type: 'state', id: this.#nextId++ }, ASK_TIMEOUT_MS);
        if (typeof answer !== 'object' || answer.type !== 'state') return { ...base, pid: running.pid, state: 'not-answering', generation: slot.generation, inFlight: slot.inFlight };
        const { pid, generation, inFlight, websocketTunnels, suspendedTargets, jwks } = answer.state;
        return { ...base, pid, state: 'serving', generation, inFlight, websocketTunnels, suspendedTargets, jwks };
      }),
    );
  }

  // ------------------------------------------------------------------ stopping

  announceStop(): void {
    for (const slot of this.#slots) if (slot.running) this.#send(slot.running, { type: 'announce-stop' });
  }

  /** Every worker stops accepting and drains within `timeoutMs`; resolves once all exited. */
  async drain(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    const running = this.#stopTimers();
    for (const worker of running) this.#send(worker, { type: 'drain', timeoutMs });
    await this.#exitAll(running, timeoutMs + DRAIN_GRACE_MS);
  }

  /** Every worker closes its connections and exits now. */
  async abort(): Promise<void> {
    this.#stopping = true;
    const running = this.#stopTimers();
    for (const worker of running) this.#send(worker, { type: 'abort' });
    await this.#exitAll(running, 1_000);
  }

  #stopTimers(): Running[] {
    for (const slot of this.#slots) clearTimeout(slot.timer);
    return this.#slots.flatMap((slot) => (slot.running ? [slot.running] : []));
  }

  /** Waits for the workers to exit; those still running after `ms` are killed. */
  async #exitAll(running: readonly Running[], ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    await Promise.race([Promise.all(running.map((worker) => worker.exited)), deadline]);
    clearTimeout(timer);
    for (const worker of running) if (worker.process.isConnected() || !worker.process.isDead()) worker.process.process.kill('SIGKILL');
    await Promise.all(running.map((worker) => worker.exited));
  }

  // ------------------------------------------------------------------ one worker

  /** Starts the worker of `slot` with the configuration served now; resolves once it listens. */
  #fork(slot: Slot): Promise<{ http: AddressLike; https: AddressLike | undefined }> {
    const process = cluster.fork({ [WORKER_VARIABLE]: String(slot.number) });
    const pid = process.process.pid!;
    forwardLines(process.process.stdout!, this.#write, this.#backlog);
    forwardLines(process.process.stderr!, (text) => writeToStderr(text));
    const exited = new Promise<string>((resolve) => process.once('exit', (code, signal) => resolve(signal ? `was killed by ${signal}` : `exited with code ${code}`)));
    const running: Running = { process, pid, startedAt: new Date(), exited, state: 'starting' };
    slot.running = running;
    slot.inFlight = 0;
    process.on('message', (message: FromWorker) => this.#received(slot, running, message));
    const { holder, logging } = this.#options;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new WorkerBootError('other', `worker ${slot.number} (pid ${pid}) did not start listening within ${BOOT_TIMEOUT_MS / 1000} s`));
        process.process.kill('SIGKILL');
      }, BOOT_TIMEOUT_MS);
      const onMessage = (message: FromWorker): void => {
        if (isLimitStoreMessage(message)) return;
        if (message.type === 'hello') {
          const { current } = holder;
          this.#send(running, { type: 'boot', config: encodeDelta(current.config), generation: current.generation, logging, reusePort: this.balancing === 'reuseport' });
        } else if (message.type === 'listening') {
          clearTimeout(timer);
          running.state = 'serving';
          slot.generation = message.generation;
          resolve({ http: message.http, https: message.https });
        } else if (message.type === 'boot-failed') {
          clearTimeout(timer);
          reject(new WorkerBootError(message.kind, message.message, message.key));
        }
      };
      process.on('message', onMessage);
      void exited.then((how) => {
        clearTimeout(timer);
        process.off('message', onMessage);
        reject(new WorkerBootError('other', `worker ${slot.number} (pid ${pid}) ${how} while starting`, undefined, true));
        this.#exited(slot, running, how);
      });
    });
  }

  #received(slot: Slot, running: Running, message: FromWorker): void {
    // The workers' rate-limit counts (limits/cluster.ts) share the channel; their host answers them.
    if (isLimitStoreMessage(message)) return;
    if (message.type === 'load') {
      if (slot.running === running) slot.inFlight = message.inFlight;
      return;
    }
    if ('id' in message) this.#answers.get(`${running.pid}:${message.id}`)?.(message);
  }

  /** Sends `message` and waits for its answer: the answer, how the worker ended, or undefined after `ms`. */
  #ask(running: Running, message: ToWorker & { readonly id: number }, ms: number): Promise<Answer | string | undefined> {
    const key = `${running.pid}:${message.id}`;
    return new Promise((resolve) => {
      const done = (answer: Answer | string | undefined): void => {
        clearTimeout(timer);
        this.#answers.delete(key);
        resolve(answer);
      };
      const timer = setTimeout(() => done(undefined), ms);
      this.#answers.set(key, done);
      void running.exited.then(done);
      this.#send(running, message);
    });
  }

  #send(running: Running, message: ToWorker): void {
    if (!running.process.isConnected()) return;
    running.process.send(message, undefined, () => undefined);
  }

  #exited(slot: Slot, running: Running, how: string): void {
    if (slot.running !== running) return;
    slot.running = undefined;
    if (this.#stopping || !this.#started) return;
    this.#keepCounts(running.pid);
    const lost = running.state === 'serving' ? slot.inFlight : 0;
    const lived = Date.now() - running.startedAt.getTime();
    slot.quickExits = lived < STABLE_MS ? slot.quickExits + 1 : 0;
    slot.restarts++;
    const delayMs = slot.quickExits <= 1 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 500 * 2 ** (slot.quickExits - 2));
    this.#options.logger.error(
      { worker: slot.number, workerPid: running.pid, lostRequests: lost, restarts: slot.restarts, restartInMs: delayMs },
      `worker ${slot.number} (pid ${running.pid}) ${how}; ${lost} request(s) it had in flight are lost; ${delayMs === 0 ? 'replacing it now' : `replacing it in ${delayMs} ms (it exited ${slot.quickExits} times within ${STABLE_MS / 1000} s of starting)`}; the other workers keep serving`,
    );
    this.emit('restarted', lost);
    slot.timer = setTimeout(() => void this.#replace(slot), delayMs);
  }

  async #replace(slot: Slot): Promise<void> {
    slot.timer = undefined;
    // A reload being prepared is decided first: the replacement then starts with what is served.
    while (this.#deciding) await this.#deciding;
    if (this.#stopping || slot.running) return;
    try {
      await this.#fork(slot);
      const pid = runningPid(slot);
      this.#options.logger.info({ worker: slot.number, workerPid: pid, generation: slot.generation }, `worker ${slot.number} replaced (pid ${pid}): serving generation ${slot.generation}`);
    } catch (error) {
      // Its exit schedules the next try, and says so; why it could not start is said here.
      if (!(error instanceof WorkerBootError && error.exited)) this.#options.logger.error({ worker: slot.number }, `worker ${slot.number} could not start: ${(error as Error).message}`);
    }
  }
}

type Metrics = MetricObjectWithValues<MetricValue<string>>[];

/** Metrics of several registries summed by prom-client's cluster aggregation, as plain values. */
function sumMetrics(list: readonly Metrics[]): Metrics {
  const registry = AggregatorRegistry.aggregate(list as Parameters<typeof AggregatorRegistry.aggregate>[0]);
  // The aggregated registry's metrics are plain objects whose get() returns them: no collect() runs.
  return registry.getMetricsAsArray().map((metric) => (metric as unknown as { get(): Metrics[number] }).get());
}

/** The pid of the slot's worker: a function, so that TypeScript does not keep what it knew of slot.running before an await. */
function runningPid(slot: Slot): number | undefined {
  return slot.running?.pid;
}

/** A worker's stderr: passed on whole lines at a time, synchronously (as Node writes stderr to files and pipes). */
function writeToStderr(text: string): void {
  try {
    writeSync(2, text);
  } catch {
    // stderr is gone: nothing else to tell.
  }
}
