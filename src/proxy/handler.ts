// The request path (docs/http.md): read the current snapshot once, route, pick the endpoint,
// check the resources allow-list, and dispatch to the endpoint's pool. Bodies stream both ways
// with back-pressure: request bytes flow into undici as they arrive; response bytes are written to
// the client as they arrive, and the backend is paused while the client is slow.
//
// Hot path: everything that can be built once per snapshot is (routes, resource matchers, pools
// and their TLS contexts, Host headers, descriptions). Per request: the header array, one
// exchange object, and the log line.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, relative } from 'node:path';
import { Transform, pipeline } from 'node:stream';
import type { Dispatcher } from 'undici';
import { explainPending, failureDetail } from '../backend/explain.js';
import { backendFailureMessage, classifyBackendError, errorCode } from '../backend/failure.js';
import type { RequestCode } from '../errors.js';
import type { EndpointRuntime, Snapshot } from '../snapshot/snapshot.js';
import type { AccessLog } from './access-log.js';
import { clientAddress, isTrustedProxy } from './client-address.js';
import { sendError } from './errors.js';
import { backendRequestHeaders, clientAddressOf, clientResponseHeaders, isValidRequestId } from './headers.js';
import { normalizePath } from './path.js';

export interface SnapshotSource {
  readonly current: Snapshot;
}

/** Told of every response when it is over: the metrics implement it (the proxy knows nothing of them). */
export interface RequestObserver {
  /** `status` 0: the client left before the response was complete. `code`: the gateway's own answer, if any. */
  observe(endpoint: EndpointRuntime | undefined, status: number, seconds: number, code: RequestCode | undefined): void;
}

export interface ProxyOptions {
  readonly snapshots: SnapshotSource;
  readonly accessLog: AccessLog;
  /** The listener's scheme, for X-Forwarded-Proto. */
  readonly proto: 'http' | 'https';
  /** True once the gateway is stopping: every response from then on says Connection: close. */
  readonly draining?: () => boolean;
  /** Called once per request when its response is over (graceful shutdown counts requests). */
  readonly onSettled?: () => void;
  readonly observer?: RequestObserver;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Header fields a request may carry (Node's own cap, maxHeadersCount, silently drops the rest at 2000). */
const MAX_HEADER_FIELDS = 100;
/** Refusals after which the rest of the request cannot be trusted, or would be read for nothing. */
const CLOSE: readonly string[] = ['connection', 'close'];
const NO_HEADERS: readonly string[] = [];

/** Logged, never sent: the status of a request whose client went away (nginx's 499). */
const CLIENT_CLOSED = 499;

export function createProxyHandler(options: ProxyOptions): RequestHandler {
  return (req, res) => {
    const snapshot = options.snapshots.current;
    const incoming = req.headers['x-request-id'];
    const requestId = isValidRequestId(incoming) ? incoming : randomUUID();
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const rawPath = queryAt === -1 ? url : url.slice(0, queryAt);
    // The access log shows the path as the client sent it.
    const exchange = new Exchange(options, req, res, requestId, rawPath);
    const peer = clientAddressOf(req.socket.remoteAddress);
    exchange.client = peer;

    if (req.rawHeaders.length > MAX_HEADER_FIELDS * 2) return exchange.refuse('REQUEST_HEADERS_TOO_LARGE', `more than ${MAX_HEADER_FIELDS} header fields`, CLOSE);
    const upgrade = req.headers.upgrade;
    // An upgrade is asked for only with "upgrade" in Connection (RFC 9110 §7.8); a lone Upgrade
    // header is hop-by-hop and removed like the others. An h2c offer is declined by serving HTTP/1.1.
    if (upgrade !== undefined && upgrade.toLowerCase() !== 'h2c' && asksUpgrade(req.headers.connection)) {
      return exchange.refuse('UPGRADE_NOT_SUPPORTED', `protocol upgrades (Upgrade: ${clip(upgrade)}) are not proxied`, CLOSE);
    }
    if (!rawPath.startsWith('/')) return exchange.refuse('NO_ROUTE', `no API at ${clip(rawPath)}`);
    // Routed, checked against resources and forwarded: the normalized path, one and the same.
    const normalized = normalizePath(rawPath);
    if ('refused' in normalized) return exchange.refuse('INVALID_PATH', normalized.refused);
    const path = normalized.path;
    const route = snapshot.router.match(path);
    if ('reason' in route) {
      return route.reason === 'no-context'
        ? exchange.refuse('NO_ROUTE', `no API at ${clip(path)}`)
        : exchange.refuse('NO_ROUTE', `${route.context} has no default version; call ${route.context}/{version}/... with one of: ${route.versions}`);
    }
    const api = route.target;
    const endpoint = isSandbox(req.headers[snapshot.sandboxHeader]) ? api.sandbox : api.production;
    exchange.endpoint = endpoint ?? api.production;
    if (!endpoint) {
      return exchange.refuse('NO_ROUTE', `API "${api.config.name}" version ${api.config.version} has no sandbox endpoint`);
    }
    if (api.resources) {
      const allowed = api.resources.match(route.rest, req.method ?? 'GET');
      if (allowed.kind === 'not-listed') {
        return exchange.refuse('NO_ROUTE', `API "${api.config.name}" version ${api.config.version} has no resource ${clip(route.rest || '/')}`);
      }
      if (allowed.kind === 'method') {
        return exchange.refuse(
          'METHOD_NOT_ALLOWED',
          `${req.method} is not allowed on ${clip(route.rest || '/')} of API "${api.config.name}" version ${api.config.version} (allowed: ${allowed.allow})`,
          ['allow', allowed.allow],
        );
      }
    }
    const pool = endpoint.pool;
    if (!pool) {
      const { config } = snapshot;
      const folder = `${relative(dirname(config.file), config.certs.directory) || '.'}/`;
      exchange.detail = { pendingCertificates: endpoint.config.pendingAliases, hint: explainPending(endpoint.config, folder, config.inventory.map((f) => f.alias)) };
      return exchange.refuse('CERTIFICATE_PENDING', `${endpoint.config.description}: the backend's certificate is not installed yet`);
    }

    const target = endpoint.config.basePath + route.rest;
    const trustedPeer = isTrustedProxy(peer, snapshot.trustedProxies);
    if (trustedPeer) exchange.client = clientAddress(peer, req.headers['x-forwarded-for'], snapshot.trustedProxies);
    const headers = backendRequestHeaders(req.rawHeaders, {
      headers: endpoint.config.headers,
      hostHeader: endpoint.hostHeader,
      sandboxHeader: snapshot.sandboxHeader,
      requestId,
      clientAddress: peer,
      proto: options.proto,
      trustedPeer,
    });
    // Two Host lines: which one names the target is anyone's guess (RFC 9112 §3.2), so neither is sent on.
    if (!headers) return exchange.refuse('INVALID_HOST', 'the request has more than one Host header', CLOSE);
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    let body: IncomingMessage | Transform | null = hasBody ? req : null;
    const limit = api.config.maxBodyBytes;
    if (body && limit !== undefined) {
      const declared = req.headers['content-length'];
      if (declared !== undefined && Number(declared) > limit) {
        return exchange.refuse('PAYLOAD_TOO_LARGE', `the body is ${declared} bytes; API "${api.config.name}" version ${api.config.version} accepts at most ${limit}`, CLOSE);
      }
      // Chunked: counted as it streams (only for APIs with a limit).
      if (declared === undefined) body = limitedBody(req, limit);
    }
    exchange.dispatch(pool, {
      origin: endpoint.config.origin,
      path: (target === '' ? '/' : target) + (queryAt === -1 ? '' : url.slice(queryAt)),
      method: req.method ?? 'GET',
      headers,
      body,
    });
  };
}

/** Methods whose request may be sent twice (RFC 9110 §9.2.2), when it has no body to replay. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
/** The connection closed under the request before any response: a pooled keep-alive connection the backend closed at that moment. */
const STALE_CONNECTION = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/** Whether a Connection header lists the "upgrade" option. */
function asksUpgrade(connection: string | undefined): boolean {
  return connection !== undefined && /(?:^|,)\s*upgrade\s*(?:,|$)/i.test(connection);
}

function isSandbox(value: string | string[] | undefined): boolean {
  return typeof value === 'string' && value.toLowerCase() === 'sandbox';
}

/** Request paths in messages are clipped: a message is not a place to echo kilobytes back. */
function clip(path: string): string {
  return path.length > 200 ? `${path.slice(0, 200)}...` : path;
}

/**
 * One request: the undici dispatch handler that streams the backend's response to the client,
 * and the access log line written when the response is over (or the client left). One object
 * and one 'close' listener per request.
 */
class Exchange implements Dispatcher.DispatchHandler {
  endpoint: EndpointRuntime | undefined;
  /** The TCP peer, or the client a trusted proxy forwarded the request for. */
  client = '';
  code: RequestCode | undefined;
  detail: Record<string, unknown> | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #clientGone = false;
  #request: Dispatcher.DispatchOptions | undefined;
  #retried = false;
  readonly #startedAt = performance.now();

  constructor(
    readonly options: ProxyOptions,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly requestId: string,
    readonly path: string,
  ) {
    res.on('close', this.#onClose); // 'close' comes once; `on` spares once()'s wrapper
  }

  dispatch(pool: Dispatcher, request: Dispatcher.DispatchOptions): void {
    this.#request = request;
    pool.dispatch(request, this);
  }

  /** The gateway answers itself, with an error code. */
  refuse(code: RequestCode, message: string, extra: readonly string[] = NO_HEADERS): void {
    this.code = code;
    sendError(this.res, code, message, this.requestId, this.#draining() && extra !== CLOSE ? [...extra, ...CLOSE] : extra);
  }

  /** A stopping gateway closes each connection after its response (docs/http.md, graceful shutdown). */
  #draining(): boolean {
    return this.options.draining?.() === true;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#clientGone) controller.abort(new ClientClosedError());
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return; // 1xx informational answers are the backend's business with us
    const out = clientResponseHeaders(headers, this.requestId);
    if (this.#draining()) out.push(...CLOSE);
    this.res.writeHead(statusCode, out);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', this.#resume);
    }
  }

  onResponseEnd(): void {
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#clientGone || error instanceof ClientClosedError) return;
    const request = this.#request;
    if (!this.res.headersSent && !this.#retried && request && request.body === null && IDEMPOTENT.has(request.method) && STALE_CONNECTION.has(errorCode(error) ?? '')) {
      // Once: a keep-alive connection the backend closed just as the request went out. undici
      // opens a new connection for the second attempt; a backend that keeps failing gets its 502.
      // On the endpoint's pool of the snapshot served now: a reload meanwhile may have closed the
      // pool the request started on (it had no request left in flight to wait for).
      this.#retried = true;
      this.detail = { retriedAfter: errorCode(error) };
      const endpoint = this.endpoint!;
      const pool = this.options.snapshots.current.endpoints.get(endpoint.config.name)?.pool ?? endpoint.pool!;
      pool.dispatch(request, this);
      return;
    }
    if (error instanceof PayloadTooLargeError) {
      if (this.res.headersSent) {
        this.code = 'PAYLOAD_TOO_LARGE';
        this.res.destroy(error);
      } else {
        this.refuse('PAYLOAD_TOO_LARGE', `${error.message}; API "${this.endpoint!.apiConfig.name}" version ${this.endpoint!.apiConfig.version} accepts at most ${error.limit}`, CLOSE);
      }
      return;
    }
    const endpoint = this.endpoint!;
    const code = classifyBackendError(error);
    this.detail = { ...this.detail, ...failureDetail({ code, error }, endpoint.config, Date.now()) };
    if (this.res.headersSent) {
      // Mid-body: the client must see a broken response, never a clean-looking truncated one.
      this.code = code;
      this.res.destroy(error);
      return;
    }
    this.refuse(code, backendFailureMessage(code, endpoint.config.description));
  }

  readonly #resume = (): void => {
    this.#controller?.resume();
  };

  readonly #onClose = (): void => {
    const { res, endpoint } = this;
    if (!res.writableFinished) {
      this.#clientGone = true;
      this.#controller?.abort(new ClientClosedError());
    }
    const status = res.writableFinished ? res.statusCode : CLIENT_CLOSED;
    const elapsedMs = performance.now() - this.#startedAt;
    this.options.accessLog.write({
      requestId: this.requestId,
      method: this.req.method,
      path: this.path,
      client: this.client,
      status,
      durationMs: Math.round(elapsedMs * 100) / 100,
      labels: endpoint?.logLabels,
      code: this.code,
      detail: this.detail,
    });
    // Status 0: the client left before the response was complete (client_closed in the metrics).
    this.options.observer?.observe(endpoint, res.writableFinished ? status : 0, elapsedMs / 1000, this.code);
    this.options.onSettled?.();
  };
}

class PayloadTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the body passed ${limit} bytes`);
    this.name = 'PayloadTooLargeError';
  }
}

/** The request body, failing with PayloadTooLargeError once more than `limit` bytes went through. */
function limitedBody(req: IncomingMessage, limit: number): Transform {
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > limit ? new PayloadTooLargeError(limit) : null, chunk);
    },
  });
  // The client's errors end the body as well; the exchange sees them through undici.
  pipeline(req, counter, () => undefined);
  return counter;
}

class ClientClosedError extends Error {
  constructor() {
    super('the client closed the connection');
    this.name = 'ClientClosedError';
  }
}
