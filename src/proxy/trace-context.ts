// W3C Trace Context (https://www.w3.org/TR/trace-context/): the traceparent request header that
// tracing systems put on a request, read for the access log's traceId and continued by the
// gateway's span when tracing is on (tracing.ts). A header that is absent, repeated (Node joins
// repeated headers with ", ", which makes it longer than 55) or malformed is ignored, as the
// recommendation says a receiver must; it is then passed on unchanged when tracing is off.

export interface TraceParent {
  readonly traceId: string;
  /** The caller's span: the parent of the gateway's. */
  readonly spanId: string;
  /** The trace flags byte (01: sampled). */
  readonly flags: number;
}

/** Version 00: 55 characters, lower-case hex. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

export function parseTraceParent(header: string | string[] | undefined): TraceParent | undefined {
  if (typeof header !== 'string' || header.length !== 55) return undefined;
  const match = TRACEPARENT.exec(header);
  if (!match || match[1] === ZERO_TRACE || match[2] === ZERO_SPAN) return undefined;
  return { traceId: match[1]!, spanId: match[2]!, flags: parseInt(match[3]!, 16) };
}

/** The trace id of a valid traceparent header, else undefined. */
export function traceIdOf(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string' || header.length !== 55) return undefined;
  const match = TRACEPARENT.exec(header);
  if (!match || match[1] === ZERO_TRACE || match[2] === ZERO_SPAN) return undefined;
  return match[1];
}

/** The header that names `spanId` of `traceId` as the parent of the next hop. */
export function formatTraceParent(traceId: string, spanId: string, flags: number): string {
  return `00-${traceId}-${spanId}-${flags < 16 ? '0' : ''}${flags.toString(16)}`;
}
