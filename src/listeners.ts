// The gateway's sockets: the client listeners (HTTP, and HTTPS with its own certificate) and the
// admin listener. They are bound once, at start; what a reload may change of them (client limits,
// the HTTPS listener's certificate, protocols and ciphers) follows the snapshot holder's swaps.
// Also here: the count of requests in flight and the graceful drain.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { formatAddress } from './config/address.js';
import { effectiveCiphers } from './config/tls.js';
import type { GatewayConfig, HttpsListenerConfig, ListenAddress } from './config/types.js';
import { UPGRADE_HEAD } from './proxy/handler.js';
import type { RequestHandler, UpgradeRequest } from './proxy/handler.js';
import type { SnapshotHolder } from './snapshot/holder.js';

/** The request line and headers together, in bytes: larger is refused with 431 (Node's default, stated; nginx's large_client_header_buffers is 4 × 8k). */
const CLIENT_MAX_HEADER_BYTES = 16 * 1024;

/** Which listener, for messages: its configuration key and how people call it. */
export interface ListenerRole {
  readonly key: 'listen.http' | 'listen.https.address' | 'admin.address';
  readonly name: string;
}

export const HTTP_LISTENER: ListenerRole = { key: 'listen.http', name: 'the HTTP listener' };
export const HTTPS_LISTENER: ListenerRole = { key: 'listen.https.address', name: 'the HTTPS listener' };
export const ADMIN_LISTENER: ListenerRole = { key: 'admin.address', name: 'the admin address' };

/** A listener that could not bind its address: which one, where, and the system's reason. */
export class ListenError extends Error {
  constructor(
    readonly role: ListenerRole,
    readonly address: ListenAddress,
    readonly reason: string,
  ) {
    super(`${role.name} cannot listen on ${formatAddress(address)}: ${reason}`);
    this.name = 'ListenError';
  }
}

export class Listeners {
  readonly #clients: http.Server[] = [];
  #https: https.Server | undefined;
  #admin: http.Server | undefined;
  #inFlight = 0;
  /** Both sockets of every WebSocket tunnel: they are no longer the servers', and are closed here at the end. */
  readonly #tunnels = new Set<Duplex>();
  #draining = false;
  #idle: (() => void) | undefined;

  constructor(readonly holder: SnapshotHolder) {
    holder.on('swapped', (next, previous) => this.#follow(next.config, previous.config));
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** True once announceStop() or drain() began: responses from then on close their connection. */
  readonly draining = (): boolean => this.#draining;

  /**
   * Opens the client listeners on the addresses of the configuration served now. `handler`
   * makes the request handler of a listener's scheme; it must call `settled` once per request.
   */
  async openClients(handler: (proto: 'http' | 'https') => RequestHandler, { reusePort = false } = {}): Promise<{ http: AddressInfo; https: AddressInfo | undefined }> {
    const { listen } = this.holder.current.config;
    const plain = http.createServer(serverOptions(listen), this.#track(handler('http')));
    this.#acceptUpgrades(plain, handler('http'));
    this.#clients.push(plain);
    const httpAddress = await bind(plain, listen.http, HTTP_LISTENER, reusePort);
    if (!listen.https) return { http: httpAddress, https: undefined };
    const secure = https.createServer({ ...serverOptions(listen), ...httpsOptions(listen.https) }, this.#track(handler('https')));
    this.#acceptUpgrades(secure, handler('https'));
    this.#clients.push(secure);
    this.#https = secure;
    return { http: httpAddress, https: await bind(secure, listen.https.address, HTTPS_LISTENER, reusePort) };
  }

  /** The admin listener stays open while requests drain (probes see /readyz 503), and closes last. */
  async openAdmin(server: http.Server): Promise<AddressInfo> {
    this.#admin = server;
    return bind(server, this.holder.current.config.admin.address, ADMIN_LISTENER);
  }

  /**
   * Requests Node parses as upgrades (Connection: upgrade with an Upgrade header) come with their
   * socket, no longer the HTTP server's: the handler answers them through a response written on
   * that socket, or turns the socket into a WebSocket tunnel (SPEC §10). A response that ends
   * ends the socket: there is no HTTP parser left to read a next request.
   */
  #acceptUpgrades(server: http.Server, handler: RequestHandler): void {
    const tracked = this.#track(handler);
    server.on('upgrade', (req: UpgradeRequest, socket: Duplex, head: Buffer) => {
      req[UPGRADE_HEAD] = head;
      const res = new http.ServerResponse(req);
      res.shouldKeepAlive = false;
      res.assignSocket(socket as Socket);
      res.on('finish', () => socket.end());
      socket.on('error', () => socket.destroy());
      tracked(req, res);
    });
  }

  /** For the request handlers: a WebSocket tunnel opened; counted until both of its sockets close. */
  readonly tunnel = (client: Duplex, backend: Duplex): void => {
    this.#tunnels.add(client);
    this.#tunnels.add(backend);
    const forget = () => {
      this.#tunnels.delete(client);
      this.#tunnels.delete(backend);
    };
    client.once('close', forget);
    backend.once('close', forget);
  };

  /** WebSocket tunnels open now. */
  get tunnels(): number {
    return this.#tunnels.size / 2;
  }

  #track(handler: RequestHandler): RequestHandler {
    return (req, res) => {
      this.#inFlight++;
      handler(req, res);
    };
  }

  /** For the request handlers: a request's response is over. */
  readonly settled = (): void => {
    this.#inFlight--;
    if (this.#inFlight === 0) this.#idle?.();
  };

  /** What a reload may change of the listeners takes effect for new connections and requests. */
  #follow(next: GatewayConfig, previous: GatewayConfig): void {
    // Node reads the client limits from the server for each new request.
    for (const server of this.#clients) applyClientLimits(server, next.listen);
    const listener = next.listen.https;
    const before = previous.listen.https;
    if (this.#https && listener && before && !sameListenerTls(before, listener)) this.#https.setSecureContext(httpsOptions(listener));
  }

  /**
   * The gateway is about to stop (listen.shutdownDelay): the listeners keep accepting, but every
   * response from now on closes its connection and idle kept-alive connections are closed, so
   * that clients reconnect, through a load balancer that by now sends them elsewhere.
   */
  announceStop(): void {
    this.#draining = true;
    for (const server of this.#clients) server.closeIdleConnections();
  }

  /** Stops accepting and resolves when no request is in flight, or after `timeoutMs`; true when they all finished. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.#draining = true;
    for (const server of this.#clients) {
      server.close();
      server.closeIdleConnections();
    }
    if (this.#inFlight === 0) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#idle = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  /** Closes every connection, tunnel and listener, the admin one last. */
  async closeAll(): Promise<void> {
    for (const socket of this.#tunnels) socket.destroy();
    for (const server of this.#admin ? [...this.#clients, this.#admin] : this.#clients) {
      server.closeAllConnections();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    }
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

/** The system's reasons for a failed bind, in words that say what to do. */
function bindReason(code: string | undefined, address: ListenAddress, role: ListenerRole, message: string): string {
  switch (code) {
    case 'EADDRINUSE':
      return `the address is already in use by another process: stop it (\`ss -ltnp 'sport = :${address.port}'\` shows which), or set ${role.key} to a free port`;
    case 'EACCES':
      return `permission denied: ports below 1024 need root or the CAP_NET_BIND_SERVICE capability; use a port above 1023, or grant the capability`;
    case 'EADDRNOTAVAIL':
      return `"${address.host}" is not an address of this machine: use one of its addresses, or 0.0.0.0 for every interface`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host name "${address.host}" does not resolve (${code}): use an IP address, or a name this machine resolves`;
    default:
      return message;
  }
}

/**
 * Listens on `address`; a failure becomes a ListenError that names the listener and what to do.
 * With `reusePort` (a worker, where the runtime has SO_REUSEPORT: workers/balance.ts), the socket
 * is this process's own, and the kernel spreads connections over the workers' sockets; without
 * it, a worker's listen goes through node:cluster's primary.
 */
function bind(server: http.Server, address: ListenAddress, role: ListenerRole, reusePort = false): Promise<AddressInfo> {
  // Not events.once(server, 'listening'): it rejects with the raw error first, before anything
  // could say which listener failed.
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(new ListenError(role, address, bindReason(error.code, address, role, error.message)));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    const host = address.host === '' ? undefined : address.host;
    server.listen(reusePort ? { port: address.port, host, exclusive: true, reusePort: true } : { port: address.port, host });
  });
}
