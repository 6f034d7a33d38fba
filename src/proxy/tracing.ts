// Opt-in OpenTelemetry tracing (docs/http.md, "Tracing"): one server span per request, which
// continues the client's W3C traceparent and is the parent named in the traceparent sent to the
// backend. Configured by the standard OTEL_* variables only. When they do not ask for traces,
// nothing of OpenTelemetry is loaded (otel.ts is imported on demand) and the request path pays
// one comparison with undefined: the client's traceparent then reaches the backend unchanged.
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../log.js';
import type { EndpointRuntime } from '../snapshot/snapshot.js';
import type { AccessLine } from './access-log.js';
import type { TraceParent } from './trace-context.js';

/** A request's span, as the request path sees it. */
export interface RequestSpan {
  readonly traceId: string;
  /** The header for the backend: this span as its parent. */
  readonly traceparent: string;
}

/** What a span records when its request is over: the access line's facts. */
export interface TracedExchange extends AccessLine {
  readonly endpoint: EndpointRuntime | undefined;
}

export interface Tracing {
  start(req: IncomingMessage, parent: TraceParent | undefined, scheme: 'http' | 'https'): RequestSpan;
  end(span: RequestSpan, exchange: TracedExchange): void;
  /** Exports the spans not yet sent (at most a few seconds), then stops. */
  shutdown(): Promise<void>;
}

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface TracingSettings {
  readonly exporters: readonly ('otlp' | 'console')[];
  readonly protocol: OtlpProtocol;
}

type Env = Readonly<Record<string, string | undefined>>;

const SUPPORTED_EXPORTERS: ReadonlySet<string> = new Set(['otlp', 'console']);

/**
 * Whether the environment asks for traces, and how. Traces are on when OTEL_TRACES_EXPORTER
 * names otlp or console, or (without it) when an OTLP endpoint is set
 * (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); off with
 * OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. Unlike an SDK that exports by default,
 * nothing is on without one of these: a gateway that nobody asked to trace does not try to send
 * spans to localhost:4318. `problems` are told in the log (an exporter or protocol not supported).
 */
export function tracingSettings(env: Env): { settings: TracingSettings | undefined; problems: string[] } {
  const problems: string[] = [];
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return { settings: undefined, problems };
  const named = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== '');
  if (named.includes('none')) return { settings: undefined, problems };
  const unsupported = named.filter((e) => !SUPPORTED_EXPORTERS.has(e));
  if (unsupported.length) problems.push(`OTEL_TRACES_EXPORTER: ${unsupported.join(', ')} not supported (supported: otlp, console); ignored`);
  const exporters = named.filter((e): e is 'otlp' | 'console' => SUPPORTED_EXPORTERS.has(e));
  if (named.length === 0 && (env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) exporters.push('otlp');
  if (exporters.length === 0) return { settings: undefined, problems };
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim().toLowerCase();
  if (exporters.includes('otlp') && protocol !== 'http/protobuf' && protocol !== 'http/json') {
    problems.push(`OTEL_EXPORTER_OTLP_PROTOCOL "${protocol}" is not supported (supported: http/protobuf, http/json, on the collector's OTLP/HTTP port, 4318 by default); tracing is off`);
    return { settings: undefined, problems };
  }
  return { settings: { exporters, protocol: protocol as OtlpProtocol }, problems };
}

/** The tracing the environment asks for, or undefined (then nothing of OpenTelemetry is loaded). */
export async function openTracing(env: Env, logger: Logger): Promise<Tracing | undefined> {
  const { settings, problems } = tracingSettings(env);
  for (const problem of problems) logger.warn({ component: 'tracing' }, problem);
  if (!settings) return undefined;
  const { openOtelTracing } = await import('./otel.js');
  const tracing = await openOtelTracing(settings, logger);
  logger.info(
    { component: 'tracing', exporters: settings.exporters, protocol: settings.exporters.includes('otlp') ? settings.protocol : undefined },
    'tracing on: one span per request, exported as the OTEL_* variables say',
  );
  return tracing;
}
