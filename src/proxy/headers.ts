// Header handling between client and backend (docs/http.md): hop-by-hop headers removed, including
// those named in Connection; Host is the backend's unless preserveHost; X-Forwarded-For appended
// to, X-Forwarded-Proto and -Host set; Authorization removed when asked; X-Request-Id on both
// sides. Headers travel as flat [name, value, ...] arrays, as Node and undici both take them:
// duplicates and the client's order survive, and no per-request object is built.
import type { TargetRuntime } from '../snapshot/snapshot.js';

/** RFC 9110 §7.6.1 connection-specific fields, plus the legacy and HTTP/2 ones. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'http2-settings',
]);

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Names listed in Connection headers, or undefined when none names another header. The usual
 * values (keep-alive, close) name only hop-by-hop options and are answered without parsing.
 */
function connectionTokens(values: readonly string[]): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (const value of values) {
    if (PLAIN_CONNECTION.test(value)) continue;
    tokens ??= new Set();
    for (const token of value.split(',')) tokens.add(token.trim().toLowerCase());
  }
  return tokens;
}

const PLAIN_CONNECTION = /^\s*(?:keep-alive|close)\s*$/i;

/**
 * What the header rules of an endpoint need, built once per snapshot: its header settings, the
 * backend's host[:port], and routing.sandboxHeader lower-cased (the gateway's own selector, not
 * forwarded).
 */
export type HeaderPlan = TargetRuntime['headerPlan'];

/** The request's own part of the header rules: passed as arguments, so that no object is built per request. */
export interface RequestFacts {
  readonly requestId: string;
  /** The TCP peer: appended to X-Forwarded-For. */
  readonly clientAddress: string;
  readonly proto: 'http' | 'https';
  /** The peer is in listen.trustedProxies: its X-Forwarded-Proto and -Host are passed on. */
  readonly trustedPeer: boolean;
  /** With tracing on: the gateway's span as the backend's parent, instead of the client's traceparent. */
  readonly traceparent?: string;
}

/**
 * The headers sent to the backend, from the client's raw headers (their names keep the client's
 * case); undefined when the request has more than one Host header, which must be refused.
 */
export function backendRequestHeaders(
  raw: readonly string[],
  plan: HeaderPlan,
  requestId: string,
  clientAddress: string,
  proto: 'http' | 'https',
  trustedPeer: boolean,
  traceparent: string | undefined,
): string[] | undefined {
  const { removeAuthorization, forwarded, preserveHost } = plan.headers;
  const out: string[] = [];
  let clientHost: string | undefined;
  let forwardedFor: string | undefined;
  let forwardedProto: string | undefined;
  let forwardedHost: string | undefined;
  let connection: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      if (lower === 'connection') (connection ??= []).push(value);
      continue;
    }
    switch (lower) {
      case 'host':
        if (clientHost !== undefined) return undefined;
        clientHost = value;
        if (preserveHost) out.push(name, value);
        continue;
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        continue;
      case 'x-forwarded-proto':
        if (!forwarded) out.push(name, value);
        else if (trustedPeer) forwardedProto ??= value;
        continue;
      case 'x-forwarded-host':
        if (!forwarded) out.push(name, value);
        else if (trustedPeer) forwardedHost ??= value;
        continue;
      case REQUEST_ID_HEADER:
      case 'expect': // Node already answered 100-continue; undici refuses the header.
        continue;
      case 'authorization':
        if (!removeAuthorization) out.push(name, value);
        continue;
      case 'traceparent':
        if (traceparent === undefined) out.push(name, value);
        continue;
      default:
        if (lower === plan.sandboxHeader || lower === plan.credentialHeader) continue;
        out.push(name, value);
    }
  }
  // Headers named in Connection are hop-by-hop too; rare, so they are taken out afterwards.
  const listed = connection && connectionTokens(connection);
  const kept = listed ? out.filter((_, i) => !listed.has(out[i - (i % 2)]!.toLowerCase())) : out;
  if (!preserveHost) kept.push('host', plan.hostHeader);
  if (forwarded) {
    kept.push('x-forwarded-for', forwardedFor === undefined ? clientAddress : `${forwardedFor}, ${clientAddress}`);
    // A trusted proxy's view of the scheme and host wins over ours (the client spoke to it).
    kept.push('x-forwarded-proto', forwardedProto ?? proto);
    if (forwardedHost !== undefined || clientHost !== undefined) kept.push('x-forwarded-host', forwardedHost ?? clientHost!);
  } else if (forwardedFor !== undefined) {
    kept.push('x-forwarded-for', forwardedFor);
  }
  kept.push(REQUEST_ID_HEADER, requestId);
  if (traceparent !== undefined) kept.push('traceparent', traceparent);
  return kept;
}

/**
 * The request headers the gateway itself reads, from one pass over the raw headers, instead of
 * Node's req.headers (an object of every header, built on first use). Repeated headers combine
 * as Node combines them: Host, User-Agent and Content-Length keep the first; the others join
 * with ", " (so that a repeated X-Request-Id or traceparent is not valid, as before).
 */
export class RequestHeaders {
  requestId: string | undefined;
  traceparent: string | undefined;
  upgrade: string | undefined;
  connection: string | undefined;
  host: string | undefined;
  userAgent: string | undefined;
  forwardedFor: string | undefined;
  contentLength: string | undefined;
  transferEncoding: string | undefined;
  /** The value of routing.sandboxHeader. */
  sandbox: string | undefined;

  constructor(raw: readonly string[], sandboxHeader: string) {
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      // Most headers are none of these: their length rules them out before any lower-casing.
      if (!INTERESTING_LENGTHS[name.length] && name.length !== sandboxHeader.length) continue;
      const value = raw[i + 1]!;
      switch (name.toLowerCase()) {
        case 'x-request-id':
          this.requestId = join(this.requestId, value);
          break;
        case 'traceparent':
          this.traceparent = join(this.traceparent, value);
          break;
        case 'upgrade':
          this.upgrade = join(this.upgrade, value);
          break;
        case 'connection':
          this.connection = join(this.connection, value);
          break;
        case 'host':
          this.host ??= value;
          break;
        case 'user-agent':
          this.userAgent ??= value;
          break;
        case 'x-forwarded-for':
          this.forwardedFor = join(this.forwardedFor, value);
          break;
        case 'content-length':
          this.contentLength ??= value;
          break;
        case 'transfer-encoding':
          this.transferEncoding = join(this.transferEncoding, value);
          break;
        case sandboxHeader:
          this.sandbox = join(this.sandbox, value);
          break;
      }
    }
  }
}

/** Lengths of the names RequestHeaders reads: x-request-id, traceparent, upgrade, connection, host, user-agent, x-forwarded-for, content-length, transfer-encoding. */
const INTERESTING_LENGTHS: readonly boolean[] = (() => {
  const lengths: boolean[] = [];
  for (const name of ['x-request-id', 'traceparent', 'upgrade', 'connection', 'host', 'user-agent', 'x-forwarded-for', 'content-length', 'transfer-encoding']) lengths[name.length] = true;
  return lengths;
})();

function join(before: string | undefined, value: string): string {
  return before === undefined ? value : `${before}, ${value}`;
}

/** The headers sent to the client, from the backend's (undici gives them lower-cased), and the gateway's RateLimit-* when a limit counted the request. */
export function clientResponseHeaders(headers: Record<string, string | string[] | undefined>, requestId: string, rateLimit?: readonly string[]): string[] {
  const connection = headers.connection;
  const listed = connection === undefined ? undefined : connectionTokens(typeof connection === 'string' ? [connection] : connection);
  const out: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || listed?.has(name) || name === REQUEST_ID_HEADER) continue;
    // The gateway's RateLimit-* (a limited API's) replace the backend's, whose count is not the client's.
    if (rateLimit && name.startsWith('ratelimit')) continue;
    if (typeof value === 'string') out.push(name, value);
    else for (const item of value) out.push(name, item);
  }
  out.push(REQUEST_ID_HEADER, requestId);
  if (rateLimit) for (const item of rateLimit) out.push(item);
  return out;
}

/** IPv4 clients of a dual-stack socket appear as ::ffff:a.b.c.d; proxies write a.b.c.d. */
export function clientAddressOf(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return 'unknown';
  return remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress;
}

const VALID_REQUEST_ID = /^[\x21\x23-\x5b\x5d-\x7e]{1,200}$/;

/**
 * A client's X-Request-Id is kept when it is printable ASCII without quotes or backslashes (so it
 * needs no escaping in a log line) of reasonable length; otherwise a new one is made.
 */
export function isValidRequestId(value: string | string[] | undefined): value is string {
  return typeof value === 'string' && VALID_REQUEST_ID.test(value);
}
