// A running gateway: the loaded configuration's snapshot in its holder, behind the client
// listeners (HTTP and optional HTTPS), the admin address, the reloader, and a graceful stop. Boot
// is the configuration pipeline followed by open; a configuration with errors never starts, and a
// listener that cannot bind its address is reported like a configuration error.
import type { AddressInfo } from 'node:net';
import { watchExpiry } from './admin/expiry.js';
import { GatewayMetrics } from './admin/metrics.js';
import { createAdminServer } from './admin/server.js';
import { EXPIRY_CODES, accessLogDiagnostic, listenDiagnostic, loadForStart, logListening } from './boot.js';
import type { Environment } from './config/interpolate.js';
import type { Diagnostic } from './diagnostics.js';
import { ListenError, Listeners } from './listeners.js';
import type { Logger } from './log.js';
import { AccessLog, AccessLogError } from './proxy/access-log.js';
import { createProxyHandler } from './proxy/handler.js';
import { openTracing } from './proxy/tracing.js';
import type { Tracing } from './proxy/tracing.js';
import { Reloader } from './reload/reloader.js';
import { stopServing } from './shutdown.js';
import { SnapshotHolder } from './snapshot/holder.js';
import { HealthChecks } from './snapshot/health.js';
import { JwksRefresher } from './snapshot/jwks.js';
import { LimitStores, logStoreState } from './snapshot/limits.js';
import { openSnapshot, retireSnapshot } from './snapshot/snapshot.js';
import { workerCount } from './workers/count.js';
import { startPrimary } from './workers/primary.js';

export interface GatewayOptions {
  readonly configPath: string;
  readonly env: Environment;
  readonly logger: Logger;
  /** How often certificate expiry is logged while running: a day (tests shorten it). */
  readonly expiryCheckIntervalMs?: number;
  /** `--workers`: instead of the file's listen.workers. */
  readonly workers?: number | 'auto';
  /** How workers log (what the command line said); one process logs with `logger`. */
  readonly logging?: { readonly pretty: boolean; readonly color: boolean; readonly level: string };
}

export interface Gateway {
  /** Where the snapshot every new request reads lives. */
  readonly holder: SnapshotHolder;
  readonly http: AddressInfo;
  readonly https: AddressInfo | undefined;
  readonly admin: AddressInfo;
  readonly metrics: GatewayMetrics;
  /** Watches the files and applies changes; emits applied, rejected, unchanged. */
  readonly reloader: Reloader;
  /** True once stop() began: /readyz answers 503. */
  readonly stopping: boolean;
  /** Requests in flight on the client listeners (with workers: as they last said, within half a second). */
  readonly inFlight: number;
  /** The worker processes serving (listen.workers), 1 when this process serves. */
  readonly workers: number;
  /**
   * Stops gracefully: /readyz answers 503 at once; with `delay` (SIGTERM) the listeners keep
   * accepting for listen.shutdownDelay so that load balancers move away first; then they stop
   * accepting, requests in flight finish within listen.shutdownTimeout, and the pools close.
   */
  stop(options?: { readonly delay?: boolean }): Promise<void>;
  /** Ends at once, during stop() too: every connection closed, requests in flight cut. */
  abort(): Promise<void>;
}

export type StartResult = { readonly gateway: Gateway; readonly diagnostics: readonly Diagnostic[] } | { readonly gateway?: undefined; readonly diagnostics: readonly Diagnostic[] };

export async function startGateway(options: GatewayOptions): Promise<StartResult> {
  const { logger } = options;
  const { config, diagnostics } = await loadForStart(options.configPath, options.env, logger);
  if (!config) return { diagnostics };
  const workers = workerCount(options.workers ?? config.listen.workers);
  if (workers > 1) return startPrimary({ ...options, config, diagnostics, size: workers });

  let accessLog: AccessLog;
  try {
    accessLog = new AccessLog(logger, config.accessLog);
  } catch (error) {
    if (error instanceof AccessLogError) return { diagnostics: [...diagnostics, await accessLogDiagnostic(config.file, error.message)] };
    throw error;
  }
  const tracing = await openTracing(options.env, logger);
  const stores = new LimitStores('single', logStoreState(logger, () => holder.current.config.rateLimits.onStoreError));
  const holder: SnapshotHolder = new SnapshotHolder(openSnapshot(config, 1, undefined, stores));
  const metrics = new GatewayMetrics(holder, { inFlight: () => listeners.inFlight, tunnels: () => listeners.tunnels });
  accessLog.follow(holder);
  const listeners = new Listeners(holder);
  const reloader = new Reloader({ configPath: options.configPath, env: options.env, logger, quietCodes: EXPIRY_CODES, holder, workersFromFlag: options.workers !== undefined });
  for (const result of ['applied', 'rejected', 'unchanged'] as const) reloader.on(result, () => metrics.reloaded(result));
  const stopExpiryLines = watchExpiry(holder, logger, options.expiryCheckIntervalMs);
  const health = new HealthChecks(holder, logger);
  const jwks = new JwksRefresher(holder, logger);
  let stopping = false;
  try {
    const clients = await listeners.openClients((proto) =>
      createProxyHandler({ snapshots: holder, accessLog, proto, draining: listeners.draining, onSettled: listeners.settled, onTunnel: listeners.tunnel, observer: metrics.requests, ...(tracing ? { tracing } : {}) }),
    );
    const admin = await listeners.openAdmin(createAdminServer({ holder, ready: () => !stopping, reloads: reloader, tunnels: () => listeners.tunnels }, metrics));
    // Listening is said once everything runs, the watch included: what follows it is served and seen.
    await reloader.start();
    logListening(logger, config, holder.current.generation, { ...clients, admin });
    let stopped: Promise<void> | undefined;
    const aborting = new AbortController();
    const gateway: Gateway = {
      holder,
      http: clients.http,
      https: clients.https,
      admin,
      metrics,
      reloader,
      get stopping() {
        return stopping;
      },
      get inFlight() {
        return listeners.inFlight;
      },
      workers: 1,
      stop: (stopOptions) => {
        stopping = true;
        stopExpiryLines();
        health.stop();
        jwks.stop();
        stopped ??= stopServing({
          serving: listeners,
          holder,
          reloader,
          logger,
          delay: stopOptions?.delay === true,
          aborted: aborting.signal,
          draining: { message: 'stopping: no new connections; waiting for requests in flight' },
          closeAll: async () => {
            await listeners.closeAll();
            await retireSnapshot(holder.current, undefined, 1_000);
            accessLog.flush();
          },
        }).then(() => closeObservability(accessLog, tracing));
        return stopped;
      },
      abort: async () => {
        stopping = true;
        aborting.abort();
        stopExpiryLines();
        health.stop();
        jwks.stop();
        // Not awaited: a reload in progress (a preflight's handshakes) must not hold the exit up.
        void reloader.close().catch(() => undefined);
        await listeners.closeAll();
        await retireSnapshot(holder.current, undefined, 0);
        accessLog.flush();
        logger.flush();
      },
    };
    return { gateway, diagnostics };
  } catch (error) {
    stopExpiryLines();
    health.stop();
    jwks.stop();
    await reloader.close();
    await listeners.closeAll();
    await retireSnapshot(holder.current, undefined, 0);
    if (error instanceof ListenError) return { diagnostics: [...diagnostics, await listenDiagnostic(config.file, error.role.key, error.message)] };
    throw error;
  }
}

/** After the drain: the last access lines written and their file closed, the last spans exported. */
async function closeObservability(accessLog: AccessLog, tracing: Tracing | undefined): Promise<void> {
  await accessLog.close();
  await tracing?.shutdown();
}

