// A running gateway: the loaded configuration's snapshot behind the client listeners (HTTP and
// optional HTTPS), and a graceful stop. Boot is the configuration pipeline followed by open;
// a configuration with errors never starts.
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:net';
import { loadConfig } from './config/load.js';
import type { Environment } from './config/interpolate.js';
import type { GatewayConfig, HttpsListenerConfig, ListenAddress } from './config/types.js';
import { formatAddress } from './config/address.js';
import { formatDiagnostic, hasErrors } from './diagnostics.js';
import type { Diagnostic } from './diagnostics.js';
import type { Logger } from './log.js';
import { AccessLog } from './proxy/access-log.js';
import { createProxyHandler } from './proxy/handler.js';
import { Reloader } from './reload/reloader.js';
import type { ReloadOutcome } from './reload/reloader.js';
import { logExpiry, startDailyExpiryCheck } from './admin/expiry.js';
import { GatewayMetrics } from './admin/metrics.js';
import { createAdminServer } from './admin/server.js';
import type { RequestHandler } from './proxy/handler.js';
import { effectiveCiphers } from './snapshot/backend-tls.js';
import { openSnapshot, retireSnapshot } from './snapshot/snapshot.js';
import type { Snapshot } from './snapshot/snapshot.js';

export interface GatewayOptions {
  readonly configPath: string;
  readonly env: Environment;
  readonly logger: Logger;
  /** How often certificate expiry is logged while running: a day (tests shorten it). */
  readonly expiryCheckIntervalMs?: number;
}

export interface Gateway {
  /** The snapshot every new request reads. */
  readonly current: Snapshot;
  readonly http: AddressInfo;
  readonly https: AddressInfo | undefined;
  readonly admin: AddressInfo;
  readonly metrics: GatewayMetrics;
  /** Watches the files and applies changes; emits applied, rejected, unchanged. */
  readonly reloader: Reloader;
  /** Stops accepting, lets requests in flight finish within the shutdown timeout, closes the pools. */
  stop(): Promise<void>;
}

export type StartResult = { readonly gateway: Gateway; readonly diagnostics: readonly Diagnostic[] } | { readonly gateway?: undefined; readonly diagnostics: readonly Diagnostic[] };

/** The request line and headers together, in bytes: larger is refused with 431 (Node's default, stated; nginx's large_client_header_buffers is 4 × 8k). */
const CLIENT_MAX_HEADER_BYTES = 16 * 1024;

export async function startGateway(options: GatewayOptions): Promise<StartResult> {
  const { logger } = options;
  const { config, diagnostics } = await loadConfig(options.configPath, { env: options.env });
  if (!config || hasErrors(diagnostics)) return { diagnostics };
  // Expiry is logged below with the certificate's details, at warn or error level.
  for (const d of diagnostics) if (!EXPIRY_CODES.has(d.code)) logger.warn({ code: d.code, file: d.file, line: d.line, path: d.path }, formatDiagnostic(d));
  logExpiry(config, logger);

  const state = { current: openSnapshot(config, 1), ready: true };
  const metrics = new GatewayMetrics(() => state.current);
  const accessLog = new AccessLog(logger);
  const listeners = new Listeners(logger);
  let httpsServer: https.Server | undefined;
  const reloader = new Reloader({
    configPath: options.configPath,
    env: options.env,
    logger,
    quietCodes: EXPIRY_CODES,
    target: {
      get current() {
        return state.current;
      },
      apply(next: Snapshot) {
        const previous = state.current.config.listen.https;
        state.current = next;
        // Client limits apply to new requests at once; Node reads them from the server.
        for (const server of listeners.servers) applyClientLimits(server, next.config.listen);
        const listener = next.config.listen.https;
        // The listener's own certificate, protocols and ciphers take effect for new connections.
        if (httpsServer && listener && previous && !sameListenerTls(previous, listener)) httpsServer.setSecureContext(httpsOptions(listener));
      },
    },
  });
  reloader.on('applied', () => {
    metrics.reloaded('applied');
    logExpiry(state.current.config, logger);
  });
  reloader.on('rejected', () => metrics.reloaded('rejected'));
  reloader.on('unchanged', () => metrics.reloaded('unchanged'));
  const stopExpiryCheck = startDailyExpiryCheck(() => state.current.config, logger, options.expiryCheckIntervalMs);
  try {
    const httpServer = listeners.add(http.createServer(serverOptions(config.listen), listeners.track(createProxyHandler({ snapshots: state, accessLog, proto: 'http', onSettled: listeners.settled, metrics: metrics.requests }))));
    const httpAddress = await listen(httpServer, config.listen.http);
    let httpsAddress: AddressInfo | undefined;
    if (config.listen.https) {
      const tlsOptions = httpsOptions(config.listen.https);
      httpsServer = listeners.add(https.createServer({ ...serverOptions(config.listen), ...tlsOptions }, listeners.track(createProxyHandler({ snapshots: state, accessLog, proto: 'https', onSettled: listeners.settled, metrics: metrics.requests }))));
      httpsAddress = await listen(httpsServer, config.listen.https.address);
    }
    const adminServer = listeners.addAdmin(
      createAdminServer(
        {
          get current() {
            return state.current;
          },
          get ready() {
            return state.ready;
          },
          get lastReload() {
            return reloader.last;
          },
          reloadNow: (reason: string): Promise<ReloadOutcome> => reloader.reloadNow(reason),
        },
        metrics,
      ),
    );
    const adminAddress = await listen(adminServer, config.admin.address);
    logger.info(
      {
        generation: state.current.generation,
        revision: config.revision,
        http: urlOf('http', httpAddress),
        ...(httpsAddress ? { https: urlOf('https', httpsAddress) } : {}),
        admin: urlOf('http', adminAddress),
        apis: config.apis.length,
      },
      'gateway listening',
    );
    logger.flush();
    await reloader.start();
    const gateway: Gateway = {
      get current() {
        return state.current;
      },
      http: httpAddress,
      https: httpsAddress,
      admin: adminAddress,
      metrics,
      reloader,
      stop: () => {
        state.ready = false;
        stopExpiryCheck();
        return stopGateway(state, listeners, logger, accessLog, reloader);
      },
    };
    return { gateway, diagnostics };
  } catch (error) {
    stopExpiryCheck();
    await reloader.close();
    await listeners.closeAll();
    await retireSnapshot(state.current, undefined, 0);
    throw error;
  }
}

function serverOptions(listen: GatewayConfig['listen']): http.ServerOptions {
  return {
    keepAliveTimeout: listen.idleTimeoutMs,
    headersTimeout: listen.headersTimeoutMs,
    requestTimeout: listen.requestTimeoutMs,
    // Node checks the two timeouts above every connectionsCheckingInterval (30 s by default).
    connectionsCheckingInterval: 1_000,
    maxHeaderSize: CLIENT_MAX_HEADER_BYTES,
    // Never the lenient parser: conflicting Content-Length / Transfer-Encoding, obsolete line
    // folding and invalid header characters are refused with 400 before the handler runs.
    insecureHTTPParser: false,
  };
}

function applyClientLimits(server: http.Server, listen: GatewayConfig['listen']): void {
  server.keepAliveTimeout = listen.idleTimeoutMs;
  server.headersTimeout = listen.headersTimeoutMs;
  server.requestTimeout = listen.requestTimeoutMs;
}

function httpsOptions(listener: HttpsListenerConfig): https.ServerOptions {
  const credentials = listener.credentials;
  const ciphers = effectiveCiphers(listener.minVersion, listener.ciphers);
  return {
    ...(credentials.kind === 'pfx' ? { pfx: credentials.pfx } : { cert: credentials.cert, key: credentials.key }),
    ...(listener.passphrase !== undefined ? { passphrase: listener.passphrase } : {}),
    minVersion: listener.minVersion,
    maxVersion: listener.maxVersion,
    ...(ciphers ? { ciphers } : {}),
  };
}

function sameListenerTls(a: HttpsListenerConfig, b: HttpsListenerConfig): boolean {
  const bytes = (l: HttpsListenerConfig) => (l.credentials.kind === 'pfx' ? [l.credentials.pfx] : [l.credentials.cert, l.credentials.key]);
  const [x, y] = [bytes(a), bytes(b)];
  return (
    a.passphrase === b.passphrase &&
    a.ciphers === b.ciphers &&
    a.protocols.join() === b.protocols.join() &&
    x.length === y.length &&
    x.every((buffer, i) => buffer.equals(y[i]!))
  );
}

async function listen(server: Server, address: ListenAddress): Promise<AddressInfo> {
  server.listen(address.port, address.host === '' ? undefined : address.host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([error]) => {
      const reason = (error as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'the address is in use' : (error as Error).message;
      throw new Error(`cannot listen on ${formatAddress(address)}: ${reason}`);
    }),
  ]);
  return server.address() as AddressInfo;
}

function urlOf(scheme: string, address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}

/** Certificate expiry codes: logged by logExpiry with the certificate's details instead. */
const EXPIRY_CODES: ReadonlySet<string> = new Set(['CERT_EXPIRING', 'CERT_EXPIRED']);

/** The client listeners, with the count of requests in flight for a graceful stop, and the admin listener. */
class Listeners {
  readonly servers: http.Server[] = [];
  #admin: http.Server | undefined;
  inFlight = 0;
  draining = false;
  #idle: (() => void) | undefined;

  constructor(readonly logger: Logger) {}

  add<S extends http.Server>(server: S): S {
    this.servers.push(server);
    return server;
  }

  /** The admin listener stays open while requests drain (probes see /readyz 503), and closes last. */
  addAdmin(server: http.Server): http.Server {
    this.#admin = server;
    return server;
  }

  /** Wraps a proxy handler made with `settled` as its onSettled. */
  track(handler: RequestHandler): RequestHandler {
    return (req, res) => {
      this.inFlight++;
      // A request that arrives on a kept-alive connection while draining is served, then the
      // connection closes.
      if (this.draining) res.setHeader('connection', 'close');
      handler(req, res);
    };
  }

  readonly settled = (): void => {
    this.inFlight--;
    if (this.inFlight === 0) this.#idle?.();
  };

  /** Resolves when no request is in flight, or after `timeoutMs`; true when they all finished. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.draining = true;
    for (const server of this.servers) {
      server.close();
      server.closeIdleConnections();
    }
    if (this.inFlight === 0) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#idle = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  async closeAll(): Promise<void> {
    for (const server of this.#admin ? [...this.servers, this.#admin] : this.servers) {
      server.closeAllConnections();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
}

async function stopGateway(state: { current: Snapshot }, listeners: Listeners, logger: Logger, accessLog: AccessLog, reloader: Reloader): Promise<void> {
  await reloader.close();
  const timeoutMs = state.current.config.listen.shutdownTimeoutMs;
  logger.info({ inFlight: listeners.inFlight, timeoutMs }, 'stopping: no new connections; waiting for requests in flight');
  const finished = await listeners.drain(timeoutMs);
  if (!finished) logger.warn({ inFlight: listeners.inFlight, timeoutMs }, 'shutdown timeout: closing the connections of requests still in flight');
  await listeners.closeAll();
  await retireSnapshot(state.current, undefined, 1_000);
  accessLog.flush();
  logger.info('stopped');
  logger.flush();
}
