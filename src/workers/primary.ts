// The primary of a gateway with workers (listen.workers above 1; docs/operations.md, "Workers").
// It owns what there is one of: the files (the watch, the reload's worker thread, validation),
// the admin address, the signals and the log of reload outcomes. The workers (workers/worker.ts)
// own the client listeners, whose ports they share, and their pools. This process serves no
// request: its snapshot's pools are used only by reload.preflight's handshakes.
//
// One configuration everywhere: a reload is applied by every worker or by none (pool.ts); a
// worker that exits unexpectedly is replaced with the configuration served now.
import { watchExpiry } from '../admin/expiry.js';
import { GatewayMetrics } from '../admin/metrics.js';
import { createAdminServer } from '../admin/server.js';
import { EXPIRY_CODES, accessLogDiagnostic, listenDiagnostic, logListening } from '../boot.js';
import type { GatewayConfig } from '../config/types.js';
import type { Diagnostic } from '../diagnostics.js';
import type { Gateway, GatewayOptions, StartResult } from '../gateway.js';
import { ListenError, Listeners } from '../listeners.js';
import { Reloader } from '../reload/reloader.js';
import { stopServing } from '../shutdown.js';
import { SnapshotHolder } from '../snapshot/holder.js';
import { hostClusterCounts } from '../limits/store.js';
import { LimitStores, logStoreState } from '../snapshot/limits.js';
import { openSnapshot, retireSnapshot } from '../snapshot/snapshot.js';
import { WorkerPool, WorkerBootError } from './pool.js';

export interface PrimaryOptions extends GatewayOptions {
  readonly config: GatewayConfig;
  readonly diagnostics: readonly Diagnostic[];
  /** How many workers: listen.workers or --workers (`workers`), resolved. */
  readonly size: number;
}

export async function startPrimary(options: PrimaryOptions): Promise<StartResult> {
  const { logger, config, diagnostics } = options;
  // The workers' memory counts live here, hosted before the first worker is forked (limits/cluster.ts),
  // whatever the configuration: a reload may add limits. The primary's Redis store serves no
  // request: it tells /status, the log and the metric whether Redis answers.
  hostClusterCounts();
  const stores = new LimitStores('primary', logStoreState(logger, () => holder.current.config.rateLimits.onStoreError));
  const holder: SnapshotHolder = new SnapshotHolder(openSnapshot(config, 1, undefined, stores));
  const logging = options.logging ?? { pretty: false, color: false, level: logger.level };
  const pool = new WorkerPool({ size: options.size, holder, logger, logging });
  const metrics = new GatewayMetrics(holder, { role: 'primary', gather: () => pool.metrics() });
  pool.on('restarted', (lost) => metrics.workerRestarted(lost));
  const listeners = new Listeners(holder);
  const reloader = new Reloader({
    configPath: options.configPath,
    env: options.env,
    logger,
    quietCodes: EXPIRY_CODES,
    holder,
    participants: pool,
    workersFromFlag: options.workers !== undefined,
  });
  for (const result of ['applied', 'rejected', 'unchanged'] as const) reloader.on(result, () => metrics.reloaded(result));
  let stopping = false;
  let stopExpiryLines = (): void => undefined;
  try {
    const clients = await pool.start();
    const admin = await listeners.openAdmin(createAdminServer({ holder, ready: () => !stopping, reloads: reloader, workers: () => pool.states() }, metrics));
    await reloader.start();
    stopExpiryLines = watchExpiry(holder, logger, options.expiryCheckIntervalMs);
    logListening(logger, config, holder.current.generation, { ...clients, admin }, { workers: pool.size, balancing: pool.balancing });
    let stopped: Promise<void> | undefined;
    const aborting = new AbortController();
    const gateway: Gateway = {
      holder,
      http: clients.http,
      https: clients.https,
      admin,
      metrics,
      reloader,
      workers: pool.size,
      get stopping() {
        return stopping;
      },
      get inFlight() {
        return pool.inFlight;
      },
      stop: (stopOptions) => {
        stopping = true;
        stopExpiryLines();
        stopped ??= stopServing({
          serving: pool,
          holder,
          reloader,
          logger,
          delay: stopOptions?.delay === true,
          aborted: aborting.signal,
          draining: { message: 'stopping: no new connections; waiting for requests in flight on every worker', fields: { workers: pool.size } },
          closeAll: async () => {
            await listeners.closeAll();
            await retireSnapshot(holder.current, undefined, 0);
          },
        });
        return stopped;
      },
      abort: async () => {
        stopping = true;
        aborting.abort();
        stopExpiryLines();
        void reloader.close().catch(() => undefined);
        await pool.abort();
        await listeners.closeAll();
        await retireSnapshot(holder.current, undefined, 0);
        logger.flush();
      },
    };
    return { gateway, diagnostics };
  } catch (error) {
    stopExpiryLines();
    await reloader.close();
    await pool.abort();
    await listeners.closeAll();
    await retireSnapshot(holder.current, undefined, 0);
    if (error instanceof WorkerBootError && error.kind === 'listen') return { diagnostics: [...diagnostics, await listenDiagnostic(config.file, error.key!, error.message)] };
    if (error instanceof WorkerBootError && error.kind === 'access-log') return { diagnostics: [...diagnostics, await accessLogDiagnostic(config.file, error.message)] };
    if (error instanceof ListenError) return { diagnostics: [...diagnostics, await listenDiagnostic(config.file, error.role.key, error.message)] };
    throw error;
  }
}
