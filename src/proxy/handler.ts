// The request path (docs/http.md): read the current snapshot once, route, pick the endpoint,
// check the resources allow-list, and dispatch to the endpoint's pool. Bodies stream both ways
// with back-pressure: request bytes flow into undici as they arrive; response bytes are written to
// the client as they arrive, and the backend is paused while the client is slow.
//
// Hot path: everything that can be built once per snapshot is (routes, resource matchers, pools
// and their TLS contexts, Host headers, descriptions). Per request: the header array, one
// exchange object (which is also the access line and what the metrics observe), and the log
// line; a counting stream for a request with a body.
import { randomUUID } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { dirname, relative } from 'node:path';
import { Transform, pipeline } from 'node:stream';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { explainPending, failureDetail } from '../backend/explain.js';
import { backendFailureMessage, classifyBackendError, errorCode } from '../backend/failure.js';
import { LATE_TLS_ERROR } from '../backend/tls.js';
import type { BackendSocket } from '../backend/tls.js';
import { formatDuration } from '../config/durations.js';
import type { RequestCode } from '../errors.js';
import type { LimitOutcome, LimitRule } from '../limits/store.js';
import type { ApiLimits } from '../snapshot/limits.js';
import type { ApiRuntime, EndpointRuntime, Snapshot, TargetRuntime } from '../snapshot/snapshot.js';
import type { AccessLine, AccessLog } from './access-log.js';
import { clientAddress, isTrustedProxy } from './client-address.js';
import { sendError } from './errors.js';
import { RequestHeaders, backendRequestHeaders, clientAddressOf, clientResponseHeaders, isValidRequestId } from './headers.js';
import { normalizePath } from './path.js';
import { checkCredentials } from './security.js';
import { apiName } from './verdict.js';
import type { Caller, Verdict } from './verdict.js';
import { parseTraceParent, traceIdOf } from './trace-context.js';
import type { RequestSpan, TracedExchange, Tracing } from './tracing.js';

export interface SnapshotSource {
  readonly current: Snapshot;
}

/** A request whose response is over, as the observer sees it (the exchange itself: nothing is copied). */
export interface CompletedRequest {
  /** Undefined when no API matched. */
  readonly endpoint: EndpointRuntime | undefined;
  /** The target the request was last sent to; undefined when it was sent nowhere. */
  readonly target: TargetRuntime | undefined;
  /** The status sent; 499 when the client left before the response was complete (then clientClosed). */
  readonly status: number;
  readonly clientClosed: boolean;
  readonly durationMs: number;
  /** The gateway's own answer, if any. */
  readonly code: RequestCode | undefined;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  /** From the dispatch to the backend's response headers; undefined when no backend answered. */
  readonly upstreamMs: number | undefined;
  /** For an API that requires a credential: what came of it. */
  readonly auth: Verdict['kind'] | undefined;
  /** For a request a rate limit applies to: what came of its count. */
  readonly rateLimit: RateLimitDecision | undefined;
}

/** allowed, limited (429), or the store did not answer and the request was served uncounted or refused (503). */
export type RateLimitDecision = 'allowed' | 'limited' | 'store_error_allowed' | 'store_error_denied';

/** Told of every response when it is over: the metrics implement it (the proxy knows nothing of them). */
export interface RequestObserver {
  observe(request: CompletedRequest): void;
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
  /** OpenTelemetry, when the OTEL_* variables ask for it (tracing.ts); absent, it costs nothing. */
  readonly tracing?: Tracing;
  /** Told of every WebSocket tunnel opened: the listeners count them and close them at shutdown. */
  readonly onTunnel?: (client: Duplex, backend: Duplex) => void;
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
  watchUpstreamAddresses();
  const { tracing } = options;
  return (req, res) => {
    const snapshot = options.snapshots.current;
    // The headers the gateway reads, in one pass: Node's req.headers is never built.
    const facts = new RequestHeaders(req.rawHeaders, snapshot.sandboxHeader);
    const incoming = facts.requestId;
    const requestId = isValidRequestId(incoming) ? incoming : randomUUID();
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const rawPath = queryAt === -1 ? url : url.slice(0, queryAt);
    // The access log shows the path as the client sent it.
    const exchange = new Exchange(options, req, res, requestId, rawPath, facts);
    const peer = clientAddressOf(req.socket.remoteAddress);
    exchange.client = peer;
    exchange.peer = peer;
    const traceparent = facts.traceparent;
    if (tracing) {
      exchange.span = tracing.start(req, parseTraceParent(traceparent), options.proto);
      exchange.traceId = exchange.span.traceId;
    } else if (traceparent !== undefined) {
      exchange.traceId = traceIdOf(traceparent);
    }

    if (req.rawHeaders.length > MAX_HEADER_FIELDS * 2) return exchange.refuse('REQUEST_HEADERS_TOO_LARGE', `more than ${MAX_HEADER_FIELDS} header fields`, CLOSE);
    const upgrade = facts.upgrade;
    // An upgrade is asked for only with "upgrade" in Connection (RFC 9110 §7.8); a lone Upgrade
    // header is hop-by-hop and removed like the others. WebSocket is tunnelled (SPEC §10); an h2c
    // offer is declined by serving HTTP/1.1; any other protocol is refused.
    const asked = upgrade !== undefined && asksUpgrade(facts.connection) ? upgrade.trim().toLowerCase() : undefined;
    const tunnel = asked === 'websocket' && isUpgradeRequest(req);
    if (asked !== undefined && !tunnel) {
      if (asked !== 'h2c') return exchange.refuse('UPGRADE_NOT_SUPPORTED', `protocol upgrades to ${clip(upgrade!)} are not proxied (WebSocket is)`, CLOSE);
      // Node hands the socket over after the headers of an upgrade: a body would have to be read from it.
      if (isUpgradeRequest(req) && (facts.transferEncoding !== undefined || (facts.contentLength ?? '0') !== '0')) {
        return exchange.refuse('UPGRADE_NOT_SUPPORTED', 'an h2c upgrade offer with a request body is not served; send the request without Upgrade', CLOSE);
      }
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
    const rest = route.rest;
    if (!api.config.security) return forward(exchange, snapshot, api, rest, isSandbox(facts.sandbox) ? api.sandbox : api.production, tunnel, facts, url, queryAt);
    // A secured API: the credential's type chooses the endpoint, whatever the sandbox header says.
    exchange.endpoint = api.production;
    const verdict = checkCredentials(api, req.rawHeaders, snapshot.keyRing);
    if (!(verdict instanceof Promise)) return admit(exchange, snapshot, api, rest, verdict, tunnel, facts, url, queryAt);
    // A JWT: the rest waits for its signature (the request's body, unread, waits in the socket).
    void verdict.then((v) => {
      // The client may have gone meanwhile: its access line is written (499), nothing is sent.
      if (!exchange.res.destroyed) admit(exchange, snapshot, api, rest, v, tunnel, facts, url, queryAt);
    });
  };
}

/** A secured API's request, once its credential is checked: refused, or forwarded to the endpoint its type chose. */
function admit(exchange: Exchange, snapshot: Snapshot, api: ApiRuntime, rest: string, verdict: Verdict, tunnel: boolean, facts: RequestHeaders, url: string, queryAt: number): void {
  exchange.auth = verdict.kind;
  if (verdict.kind === 'unavailable') return exchange.refuse('JWKS_UNAVAILABLE', verdict.message);
  exchange.caller = verdict.caller;
  if (verdict.kind === 'unauthenticated') return exchange.refuse('UNAUTHENTICATED', verdict.message, challengeHeaders(verdict.challenge));
  if (verdict.kind === 'forbidden') return exchange.refuse('FORBIDDEN', verdict.message);
  forward(exchange, snapshot, api, rest, verdict.endpoint, tunnel, facts, url, queryAt);
}

function challengeHeaders(challenges: readonly string[]): string[] {
  return challenges.flatMap((challenge) => ['www-authenticate', challenge]);
}

/** The request, routed and allowed: checked against the endpoint's resources and the rate limits, and sent to a target. */
function forward(
  exchange: Exchange,
  snapshot: Snapshot,
  api: ApiRuntime,
  rest: string,
  endpoint: EndpointRuntime | undefined,
  tunnel: boolean,
  facts: RequestHeaders,
  url: string,
  queryAt: number,
): void {
  const { req } = exchange;
  const peer = exchange.peer;
  exchange.endpoint = endpoint ?? api.production;
  if (!endpoint) {
    return exchange.refuse('NO_ROUTE', `API "${api.config.name}" version ${api.config.version} has no sandbox endpoint`);
  }
  if (api.resources) {
    // A WebSocket handshake is a GET (RFC 6455 §4.1), and is allowed as one.
    const allowed = api.resources.match(rest, tunnel ? 'GET' : (req.method ?? 'GET'));
    if (allowed.kind === 'not-listed') {
      return exchange.refuse('NO_ROUTE', `API "${api.config.name}" version ${api.config.version} has no resource ${clip(rest || '/')}`);
    }
    if (allowed.kind === 'method') {
      return exchange.refuse(
        'METHOD_NOT_ALLOWED',
        `${req.method} is not allowed on ${clip(rest || '/')} of API "${api.config.name}" version ${api.config.version} (allowed: ${allowed.allow})`,
        ['allow', allowed.allow],
      );
    }
  }
  // Kept for a retry: another target of the group prepends its own base path.
  exchange.rest = rest;
  exchange.query = queryAt === -1 ? '' : url.slice(queryAt);
  const trustedPeer = isTrustedProxy(peer, snapshot.trustedProxies);
  if (trustedPeer) exchange.client = clientAddress(peer, facts.forwardedFor, snapshot.trustedProxies);
  exchange.trustedPeer = trustedPeer;

  const limits = snapshot.limits;
  const rules = api.limits && limits ? rulesFor(api.limits, exchange.caller) : undefined;
  if (!rules) return send(exchange, snapshot, api, endpoint, tunnel, facts);
  // Counted per key, per token subject, else per client address (the one a trusted proxy forwarded for).
  const subject = exchange.caller?.subject ?? `ip:${exchange.client}`;
  // The rest waits for the count (the request's body, unread, waits in the socket), which the store answers within its bound.
  limits!.store.consume(rules, subject).then(
    (outcome) => counted(exchange, snapshot, api, endpoint, tunnel, facts, outcome, limits!.onStoreError),
    (error: unknown) => counted(exchange, snapshot, api, endpoint, tunnel, facts, { kind: 'unavailable', reason: String(error) }, limits!.onStoreError),
  );
}

/** The rules a caller is counted against on `api`: a key's plan's with the API's own, else the API's own; undefined when none applies. */
function rulesFor(limits: ApiLimits, caller: Caller | undefined): readonly LimitRule[] | undefined {
  const plan = caller && 'apiKey' in caller ? caller.plan : undefined;
  const rules = (plan !== undefined ? limits.byPlan.get(plan) : undefined) ?? limits.own;
  return rules.length > 0 ? rules : undefined;
}

/** The request, counted: refused over a limit (or when the store failed and onStoreError says deny), else sent on with the RateLimit headers. */
function counted(exchange: Exchange, snapshot: Snapshot, api: ApiRuntime, endpoint: EndpointRuntime, tunnel: boolean, facts: RequestHeaders, outcome: LimitOutcome, onStoreError: 'allow' | 'deny'): void {
  // The client may have gone meanwhile: its access line is written (499), nothing is sent.
  if (exchange.res.destroyed) return;
  if (outcome.kind === 'limited') {
    exchange.rateLimit = 'limited';
    exchange.detail = { rateLimit: outcome.rule.id };
    const retryAfter = String(Math.max(1, Math.ceil(outcome.retryAfterMs / 1000)));
    return exchange.refuse('RATE_LIMITED', `${limitName(outcome.rule, api)} allows ${outcome.rule.requests} requests per ${formatDuration(outcome.rule.perMs)}${callerName(exchange)}; retry in ${retryAfter} s`, [...rateLimitHeaders(outcome), 'retry-after', retryAfter]);
  }
  if (outcome.kind === 'unavailable') {
    exchange.detail = { rateLimitStore: outcome.reason };
    if (onStoreError === 'deny') {
      exchange.rateLimit = 'store_error_denied';
      return exchange.refuse('RATE_LIMIT_UNAVAILABLE', `${apiName(api)} is rate limited, and the store that counts its requests does not answer (rateLimits.onStoreError: deny); try again shortly`);
    }
    // onStoreError: allow: served uncounted, and without RateLimit headers (nothing is known of the count).
    exchange.rateLimit = 'store_error_allowed';
    return send(exchange, snapshot, api, endpoint, tunnel, facts);
  }
  exchange.rateLimit = 'allowed';
  exchange.limitHeaders = rateLimitHeaders(outcome);
  send(exchange, snapshot, api, endpoint, tunnel, facts);
}

/** RateLimit-Limit, -Remaining and -Reset (seconds until the window ends), of the tightest limit. */
function rateLimitHeaders(outcome: { readonly limit: number; readonly remaining: number; readonly resetMs: number }): string[] {
  return ['ratelimit-limit', String(outcome.limit), 'ratelimit-remaining', String(outcome.remaining), 'ratelimit-reset', String(Math.ceil(outcome.resetMs / 1000))];
}

// Built on a refusal only.
function limitName(rule: LimitRule, api: ApiRuntime): string {
  // A plan rule's id is plan:<name>:<api>:<version> (snapshot/limits.ts); a plan's name holds no colon.
  return rule.id.startsWith('plan:') ? `the plan "${rule.id.split(':')[1]}" of this key on ${apiName(api)}` : `${apiName(api)}`;
}

function callerName(exchange: Exchange): string {
  const caller = exchange.caller;
  // A token without sub is counted by its client address, as an open API's callers are.
  if (!caller?.subject) return ` from ${exchange.client}`;
  return 'apiKey' in caller ? ' to each key' : ' to each token subject';
}

/** The request, allowed: sent to a target of its endpoint. */
function send(exchange: Exchange, snapshot: Snapshot, api: ApiRuntime, endpoint: EndpointRuntime, tunnel: boolean, facts: RequestHeaders): void {
  const { req, options } = exchange;
  // A v1 url is its one target; a group picks among its available targets.
  const group = endpoint.group;
  const target = group ? group.pick(Date.now()) : endpoint.config.group ? undefined : endpoint.targets[0]!;
  if (!target?.pool) {
    if (group) {
      exchange.detail = { targets: targetStates(endpoint, Date.now()) };
      return exchange.refuse('NO_BACKEND_AVAILABLE', `${endpoint.config.description}: no backend is available (every target is suspended or waits for its certificate)`);
    }
    const { config } = snapshot;
    const folder = `${relative(dirname(config.file), config.certs.directory) || '.'}/`;
    const pending = endpoint.targets.flatMap((t) => t.config.pendingAliases);
    exchange.detail = { pendingCertificates: pending, hint: explainPending(endpoint.targets[0]!.config, folder, config.inventory.map((f) => f.alias)) };
    return exchange.refuse('CERTIFICATE_PENDING', `${endpoint.config.description}: the backend's certificate is not installed yet`);
  }

  const headers = backendRequestHeaders(req.rawHeaders, target.headerPlan, exchange.requestId, exchange.peer, options.proto, exchange.trustedPeer, exchange.span?.traceparent);
  // Two Host lines: which one names the target is anyone's guess (RFC 9112 §3.2), so neither is sent on.
  if (!headers) return exchange.refuse('INVALID_HOST', 'the request has more than one Host header', CLOSE);
  const hasBody = facts.contentLength !== undefined ? facts.contentLength !== '0' : facts.transferEncoding !== undefined;
  let body: BodyCounter | null = null;
  if (hasBody) {
    const limit = api.config.maxBodyBytes;
    const declared = facts.contentLength;
    if (limit !== undefined && declared !== undefined && Number(declared) > limit) {
      return exchange.refuse('PAYLOAD_TOO_LARGE', `the body is ${declared} bytes; API "${api.config.name}" version ${api.config.version} accepts at most ${limit}`, CLOSE);
    }
    // Counted as it streams (bytesReceived), and held to the API's limit when the length is not declared.
    body = countedBody(req, declared === undefined ? limit : undefined);
    exchange.body = body;
  }
  exchange.dispatch(target, {
    origin: target.config.origin,
    path: backendPath(target, exchange.rest, exchange.query),
    method: req.method ?? 'GET',
    headers,
    body,
    // undici writes Connection: upgrade and Upgrade: websocket, and hands the socket over after a 101.
    ...(tunnel ? { upgrade: 'websocket' } : {}),
  });
}

function backendPath(target: TargetRuntime, rest: string, query: string): string {
  const path = target.config.basePath + rest;
  return (path === '' ? '/' : path) + query;
}

/** Each target's state, for the NO_BACKEND_AVAILABLE log line: which is suspended, until when, and why. */
export function targetStates(endpoint: EndpointRuntime, nowMs: number): Record<string, unknown>[] {
  const states = endpoint.group?.states(nowMs) ?? [];
  return endpoint.targets.map((target) => {
    const known = states.find((s) => s.target === target)?.state;
    const base = { target: target.config.name, url: target.config.url };
    if (!known) return { ...base, state: 'pending-certificate', pendingCertificates: target.config.pendingAliases };
    return known.state === 'available'
      ? { ...base, state: 'available' }
      : { ...base, state: 'suspended', until: new Date(known.untilMs).toISOString(), reason: known.reason, failures: known.failures };
  });
}

/** Methods whose request may be sent twice (RFC 9110 §9.2.2), when it has no body to replay. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
/** The connection closed under the request before any response: a pooled keep-alive connection the backend closed at that moment. */
const STALE_CONNECTION = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/**
 * What the client listeners hand over with a request Node parsed as an upgrade (its 'upgrade'
 * event: the socket is the handler's from the end of the headers): the bytes read past them.
 */
export const UPGRADE_HEAD = Symbol('gatehouse.upgradeHead');

export type UpgradeRequest = IncomingMessage & { [UPGRADE_HEAD]?: Buffer };

function isUpgradeRequest(req: IncomingMessage): req is UpgradeRequest & { [UPGRADE_HEAD]: Buffer } {
  return (req as UpgradeRequest)[UPGRADE_HEAD] !== undefined;
}

/** Whether a Connection header lists the "upgrade" option. */
function asksUpgrade(connection: string | undefined): boolean {
  return connection !== undefined && /(?:^|,)\s*upgrade\s*(?:,|$)/i.test(connection);
}

function isSandbox(value: string | undefined): boolean {
  return value !== undefined && value.toLowerCase() === 'sandbox';
}

/** Request paths in messages are clipped: a message is not a place to echo kilobytes back. */
function clip(path: string): string {
  return path.length > 200 ? `${path.slice(0, 200)}...` : path;
}

/**
 * One request: the undici dispatch handler that streams the backend's response to the client,
 * the access line written when the response is over (or the client left), and what the
 * observer is told. One object and one 'close' listener per request.
 */
class Exchange implements Dispatcher.DispatchHandler, AccessLine, CompletedRequest, TracedExchange {
  endpoint: EndpointRuntime | undefined;
  target: TargetRuntime | undefined;
  /** What a retry on another target needs: the path below the endpoint and the query, whether the peer is a trusted proxy. */
  rest = '';
  query = '';
  trustedPeer = false;
  /** The TCP peer, as X-Forwarded-For gets it. */
  peer = '';
  /** The request went out on a connection that had carried requests before (watchUpstreamAddresses). */
  reusedConnection = false;
  /** A WebSocket tunnel replaced the response: the exchange is over when its sockets close. */
  tunnelled = false;
  /** The connection the request went out on (watchUpstreamAddresses): the TLS error that ended it, if any. */
  socket: BackendSocket | undefined;
  /** The TCP peer, or the client a trusted proxy forwarded the request for. */
  client = '';
  code: RequestCode | undefined;
  detail: Record<string, unknown> | undefined;
  traceId: string | undefined;
  /** Who the credential says called, once it is known: a key's name, a token's iss and sub (never the credential). */
  caller: Caller | undefined;
  auth: CompletedRequest['auth'];
  rateLimit: RateLimitDecision | undefined;
  /** RateLimit-* of an allowed request, added to the backend's response. */
  limitHeaders: string[] | undefined;
  span: RequestSpan | undefined;
  body: BodyCounter | undefined;
  // Filled in when the response is over (the access line, the observer).
  status = 0;
  clientClosed = false;
  durationMs = 0;
  bytesReceived = 0;
  bytesSent = 0;
  /** ip:port of the backend connection, when a request was sent on one (watchUpstreamAddresses). */
  upstream: string | undefined;
  upstreamMs: number | undefined;
  readonly method: string | undefined;
  readonly protocol: string;
  readonly host: string | undefined;
  readonly userAgent: string | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #clientGone = false;
  #request: Dispatcher.DispatchOptions | undefined;
  #retried = false;
  readonly #startedAt = performance.now();
  #dispatchedAt = 0;

  constructor(
    readonly options: ProxyOptions,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly requestId: string,
    readonly path: string,
    facts: RequestHeaders,
  ) {
    this.method = req.method;
    this.protocol = req.httpVersionMinor === 1 && req.httpVersionMajor === 1 ? 'HTTP/1.1' : `HTTP/${req.httpVersion}`;
    this.host = facts.host;
    this.userAgent = facts.userAgent;
    res.on('close', this.#onClose); // 'close' comes once; `on` spares once()'s wrapper
  }

  get labels(): string | undefined {
    return this.endpoint?.logLabels;
  }

  dispatch(target: TargetRuntime, request: Dispatcher.DispatchOptions): void {
    this.target = target;
    this.#request = request;
    this.reusedConnection = false;
    this.socket = undefined;
    this.#dispatchedAt = performance.now();
    target.pool!.dispatch(request, this);
  }

  /** The gateway answers itself, with an error code. */
  refuse(code: RequestCode, message: string, extra: readonly string[] = NO_HEADERS): void {
    this.code = code;
    const length = sendError(this.res, code, message, this.requestId, this.#draining() && extra !== CLOSE ? [...extra, ...CLOSE] : extra);
    if (this.method !== 'HEAD') this.bytesSent = length;
  }

  /** A stopping gateway closes each connection after its response (docs/http.md, graceful shutdown). */
  #draining(): boolean {
    return this.options.draining?.() === true;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#clientGone) controller.abort(new ClientClosedError());
    // undici writes this request's headers next, in the same tick, on the connection it chose.
    else markSending(this);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return; // 1xx informational answers are the backend's business with us
    // Any status is an answer: 5xx is the backend's, not a transport failure (WSO2's rule).
    this.endpoint!.group?.succeeded(this.target!);
    this.upstreamMs = Math.round((performance.now() - this.#dispatchedAt) * 100) / 100;
    const out = clientResponseHeaders(headers, this.requestId, this.limitHeaders);
    if (this.#draining()) out.push(...CLOSE);
    this.res.writeHead(statusCode, out);
  }

  /**
   * The backend switched to WebSocket (101): the same head goes to the client, then bytes flow
   * both ways, with back-pressure (pipe pauses a side whose peer is slow), until either side
   * closes; the other is closed with it. The exchange's access line is written then, status 101.
   */
  onRequestUpgrade(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, backend: Duplex): void {
    this.endpoint!.group?.succeeded(this.target!);
    this.upstreamMs = Math.round((performance.now() - this.#dispatchedAt) * 100) / 100;
    const client = this.res.socket!;
    const out = clientResponseHeaders(headers, this.requestId, this.limitHeaders);
    let head = `HTTP/1.1 ${statusCode} Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n`;
    for (let i = 0; i < out.length; i += 2) head += `${out[i]}: ${out[i + 1]}\r\n`;
    this.tunnelled = true;
    this.res.statusCode = statusCode;
    client.write(`${head}\r\n`);
    const early = (this.req as UpgradeRequest)[UPGRADE_HEAD];
    if (early && early.length > 0) backend.write(early);
    client.on('data', (chunk: Buffer) => (this.bytesReceived += chunk.length));
    backend.on('data', (chunk: Buffer) => (this.bytesSent += chunk.length));
    const close = () => {
      client.destroy();
      backend.destroy();
    };
    client.on('close', close).on('error', close);
    backend.on('close', close).on('error', close);
    client.pipe(backend);
    backend.pipe(client);
    this.options.onTunnel?.(client, backend);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytesSent += chunk.length;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', this.#resume);
    }
  }

  onResponseEnd(): void {
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, reported: Error): void {
    if (this.#clientGone || reported instanceof ClientClosedError) return;
    // "other side closed" of a TLS connection that a late TLS error ended (a refused client certificate): that error.
    const late = errorCode(reported) === 'UND_ERR_SOCKET' ? this.socket?.[LATE_TLS_ERROR] : undefined;
    const error = late ?? reported;
    const request = this.#request;
    const endpoint = this.endpoint!;
    const failed = this.target!;
    const before = !this.res.headersSent && !(error instanceof PayloadTooLargeError);
    const code = classifyBackendError(error);
    // A keep-alive connection the backend closed just as the request went out is a race, not a
    // sign of a failing backend: it is retried, never counted.
    const stale = this.reusedConnection && STALE_CONNECTION.has(errorCode(error) ?? '');
    // The endpoint as the snapshot served now has it (a reload may have happened since the request
    // started), and the failed target's twin there: the same pool key, so the same backend.
    const current = endpoint.group ? (this.options.snapshots.current.endpoints.get(endpoint.config.name) ?? endpoint) : endpoint;
    const twin = current === endpoint ? failed : current.targets.find((t) => t.poolKey === failed.poolKey);
    if (before && endpoint.group && code !== 'BACKEND_INVALID_RESPONSE' && !stale) {
      const reason = `${code}: ${error.message}`;
      endpoint.group.failed(failed, Date.now(), reason);
      // The configuration served now must learn it too, or its next request goes to the same failure.
      if (current !== endpoint && twin) current.group?.failed(twin, Date.now(), reason);
    }
    const replayable = before && !this.#retried && request !== undefined && request.body === null && IDEMPOTENT.has(request.method);
    if (replayable && endpoint.group && code !== 'BACKEND_INVALID_RESPONSE') {
      // Once, on another available target of the group of the snapshot served now (a reload
      // meanwhile may have closed the pools the request started on).
      const exclude = twin;
      // A race on a kept-alive connection may be retried on the same target when no other is available.
      const next = current.group?.pick(Date.now(), exclude) ?? (stale ? (exclude ?? failed) : undefined);
      if (next?.pool && !next.pool.closed && !next.pool.destroyed) {
        const headers = backendRequestHeaders(this.req.rawHeaders, next.headerPlan, this.requestId, this.peer, this.options.proto, this.trustedPeer, this.span?.traceparent);
        this.#retried = true;
        this.detail = { retriedAfter: { target: failed.config.name, code, reason: error.message } };
        // The group that learns how the retry went is the one that holds its target.
        this.endpoint = current;
        this.dispatch(next, { ...request, origin: next.config.origin, path: backendPath(next, this.rest, this.query), headers: headers! });
        return;
      }
    } else if (replayable && !endpoint.config.group && STALE_CONNECTION.has(errorCode(error) ?? '')) {
      // Once: a keep-alive connection the backend closed just as the request went out. undici
      // opens a new connection for the second attempt; a backend that keeps failing gets its 502.
      // On the endpoint's pool of the snapshot served now: a reload meanwhile may have closed the
      // pool the request started on (it had no request left in flight to wait for).
      this.#retried = true;
      this.detail = { retriedAfter: errorCode(error) };
      const target = this.options.snapshots.current.endpoints.get(endpoint.config.name)?.targets[0];
      this.dispatch(target?.pool ? target : failed, request);
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
    this.detail = { ...this.detail, ...failureDetail({ code, error }, failed.config, Date.now()) };
    if (this.res.headersSent) {
      // Mid-body: the client must see a broken response, never a clean-looking truncated one.
      this.code = code;
      this.res.destroy(error);
      return;
    }
    this.refuse(code, backendFailureMessage(code, failed.config.description));
  }

  readonly #resume = (): void => {
    this.#controller?.resume();
  };

  readonly #onClose = (): void => {
    const { res } = this;
    if (this.tunnelled) return this.#settle(res.statusCode, false);
    if (!res.writableFinished) {
      this.#clientGone = true;
      this.#controller?.abort(new ClientClosedError());
    }
    this.#settle(res.writableFinished ? res.statusCode : CLIENT_CLOSED, !res.writableFinished);
  };

  /** The response (or the tunnel) is over: the access line, the span, the observer. */
  #settle(status: number, clientClosed: boolean): void {
    const { options } = this;
    this.clientClosed = clientClosed;
    this.status = status;
    this.durationMs = Math.round((performance.now() - this.#startedAt) * 100) / 100;
    if (this.body) this.bytesReceived = this.body.bytes;
    options.accessLog.write(this);
    if (this.span) options.tracing!.end(this.span, this);
    options.observer?.observe(this);
    options.onSettled?.();
  }
}

/**
 * The exchange whose request undici is about to write: set in onRequestStart, read by the
 * 'undici:client:sendHeaders' message that undici publishes in the same tick with the socket it
 * chose (undici's handler API says nothing of the connection a request went on).
 */
let sending: Exchange | undefined;
let watching = false;

function markSending(exchange: Exchange): void {
  sending = exchange;
}
const UPSTREAM = Symbol('gatehouse.upstream');

/** The upstream address of each request: ip:port of its backend connection, worked out once per connection. */
function watchUpstreamAddresses(): void {
  if (watching) return;
  watching = true;
  subscribe('undici:client:sendHeaders', (message) => {
    const exchange = sending;
    if (!exchange) return;
    sending = undefined;
    const socket = (message as { socket: BackendSocket & { [UPSTREAM]?: string | null } }).socket;
    exchange.socket = socket;
    let known = socket[UPSTREAM];
    exchange.reusedConnection = known !== undefined;
    if (known === undefined) known = socket[UPSTREAM] = addressOf(socket) ?? null;
    exchange.upstream = known ?? undefined;
  });
}

function addressOf(socket: Socket): string | undefined {
  const { remoteAddress, remotePort } = socket;
  if (remoteAddress === undefined) return undefined;
  return remoteAddress.includes(':') ? `[${remoteAddress}]:${remotePort}` : `${remoteAddress}:${remotePort}`;
}

class PayloadTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the body passed ${limit} bytes`);
    this.name = 'PayloadTooLargeError';
  }
}

/** A request body on its way to the backend: `bytes` read so far. */
type BodyCounter = Transform & { bytes: number };

/**
 * The request body as it streams, counted, and failing with PayloadTooLargeError once more than
 * `limit` bytes went through (a body without Content-Length on an API with maxBodySize).
 */
function countedBody(req: IncomingMessage, limit: number | undefined): BodyCounter {
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const bytes = (counter.bytes += chunk.length);
      done(limit !== undefined && bytes > limit ? new PayloadTooLargeError(limit) : null, chunk);
    },
  }) as BodyCounter;
  counter.bytes = 0;
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
