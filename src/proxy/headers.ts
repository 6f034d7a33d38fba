// Header handling between client and backend (docs/http.md): hop-by-hop headers removed, including
// those named in Connection; Host is the backend's unless preserveHost; X-Forwarded-For appended
// to, X-Forwarded-Proto and -Host set; Authorization removed when asked; X-Request-Id on both
// sides. Headers travel as flat [name, value, ...] arrays, as Node and undici both take them:
// duplicates and the client's order survive, and no per-request object is built.
import type { HeaderSettings } from '../config/types.js';

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

export interface RequestHeaderContext {
  readonly headers: HeaderSettings;
  /** The backend's host[:port]. */
  readonly hostHeader: string;
  /** routing.sandboxHeader, lower-case: the gateway's own selector, not forwarded. */
  readonly sandboxHeader: string;
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
export function backendRequestHeaders(raw: readonly string[], ctx: RequestHeaderContext): string[] | undefined {
  const { removeAuthorization, forwarded, preserveHost } = ctx.headers;
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
        else if (ctx.trustedPeer) forwardedProto ??= value;
        continue;
      case 'x-forwarded-host':
        if (!forwarded) out.push(name, value);
        else if (ctx.trustedPeer) forwardedHost ??= value;
        continue;
      case REQUEST_ID_HEADER:
      case 'expect': // Node already answered 100-continue; undici refuses the header.
        continue;
      case 'authorization':
        if (!removeAuthorization) out.push(name, value);
        continue;
      case 'traceparent':
        if (ctx.traceparent === undefined) out.push(name, value);
        continue;
      default:
        if (lower === ctx.sandboxHeader) continue;
        out.push(name, value);
    }
  }
  // Headers named in Connection are hop-by-hop too; rare, so they are taken out afterwards.
  const listed = connection && connectionTokens(connection);
  const kept = listed ? out.filter((_, i) => !listed.has(out[i - (i % 2)]!.toLowerCase())) : out;
  if (!preserveHost) kept.push('host', ctx.hostHeader);
  if (forwarded) {
    kept.push('x-forwarded-for', forwardedFor === undefined ? ctx.clientAddress : `${forwardedFor}, ${ctx.clientAddress}`);
    // A trusted proxy's view of the scheme and host wins over ours (the client spoke to it).
    kept.push('x-forwarded-proto', forwardedProto ?? ctx.proto);
    if (forwardedHost !== undefined || clientHost !== undefined) kept.push('x-forwarded-host', forwardedHost ?? clientHost!);
  } else if (forwardedFor !== undefined) {
    kept.push('x-forwarded-for', forwardedFor);
  }
  kept.push(REQUEST_ID_HEADER, ctx.requestId);
  if (ctx.traceparent !== undefined) kept.push('traceparent', ctx.traceparent);
  return kept;
}

/** The headers sent to the client, from the backend's (undici gives them lower-cased). */
export function clientResponseHeaders(headers: Record<string, string | string[] | undefined>, requestId: string): string[] {
  const connection = headers.connection;
  const listed = connection === undefined ? undefined : connectionTokens(typeof connection === 'string' ? [connection] : connection);
  const out: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || listed?.has(name) || name === REQUEST_ID_HEADER) continue;
    if (typeof value === 'string') out.push(name, value);
    else for (const item of value) out.push(name, item);
  }
  out.push(REQUEST_ID_HEADER, requestId);
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
