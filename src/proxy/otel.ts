// The OpenTelemetry side of tracing.ts, imported only when the environment asks for traces: the
// SDK's tracer provider (sampler from OTEL_TRACES_SAMPLER, batching from OTEL_BSP_*), the OTLP/HTTP
// exporter (endpoint, headers, timeout, compression from OTEL_EXPORTER_OTLP_*), and the resource
// (service.name gatehouse unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say otherwise).
// No global provider and no context manager are installed: the gateway starts its spans with an
// explicit parent, so nothing else in the process is traced or slowed down.
import type { IncomingMessage } from 'node:http';
import { DiagLogLevel, ROOT_CONTEXT, SpanKind, SpanStatusCode, diag, trace } from '@opentelemetry/api';
import type { Attributes, Span, Tracer } from '@opentelemetry/api';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter } from '@opentelemetry/sdk-trace-base';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import type { Logger } from '../log.js';
import { VERSION } from '../version.js';
import { formatTraceParent } from './trace-context.js';
import type { TraceParent } from './trace-context.js';
import type { RequestSpan, TracedExchange, Tracing, TracingSettings } from './tracing.js';

/** Logged (status 499), never sent: the client left before the response was complete. */
const CLIENT_CLOSED = 499;
const SHUTDOWN_MS = 5_000;
/** The SDK's own warnings (an export that failed: the collector down, say) are logged at most this often each. */
const DIAG_QUIET_MS = 60_000;

class OtelSpan implements RequestSpan {
  readonly traceId: string;
  readonly traceparent: string;
  constructor(readonly span: Span) {
    const context = span.spanContext();
    this.traceId = context.traceId;
    this.traceparent = formatTraceParent(context.traceId, context.spanId, context.traceFlags);
  }
}

export async function openOtelTracing(settings: TracingSettings, logger: Logger): Promise<Tracing> {
  diagnosticsTo(logger);
  const spanProcessors: SpanProcessor[] = [];
  for (const name of settings.exporters) spanProcessors.push(new BatchSpanProcessor(await exporterOf(name, settings)));
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'gatehouse', [ATTR_SERVICE_VERSION]: VERSION }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new BasicTracerProvider({ resource, spanProcessors });
  const tracer = provider.getTracer('gatehouse', VERSION);
  return new OtelTracing(tracer, provider, logger);
}

/**
 * The SDK reports its failures (an export refused or timed out) through its diag logger, silent
 * unless one is set: they go to the log at warn, each kind at most once a minute, so that a
 * collector that is down is seen without a line per batch.
 */
function diagnosticsTo(logger: Logger): void {
  const lastTold = new Map<string, number>();
  const tell = (text: string, args: unknown[]): void => {
    // The SDK's error handler passes an exception serialized as JSON: its message is what to say.
    const { message, code } = exceptionOf(text);
    const now = Date.now();
    if (now < (lastTold.get(message) ?? 0) + DIAG_QUIET_MS) return;
    lastTold.set(message, now);
    const detail = args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
    logger.warn({ component: 'tracing', ...(code ? { code } : {}), ...(detail ? { detail } : {}) }, `OpenTelemetry: ${message} (spans may be lost; the next such message in a minute at the earliest)`);
  };
  const ignore = (): void => undefined;
  diag.setLogger({ error: (m, ...a) => tell(m, a), warn: (m, ...a) => tell(m, a), info: ignore, debug: ignore, verbose: ignore }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
}

function exceptionOf(text: string): { message: string; code?: string } {
  if (!text.startsWith('{')) return { message: text };
  try {
    const parsed = JSON.parse(text) as { message?: unknown; code?: unknown };
    if (typeof parsed.message !== 'string') return { message: text };
    return { message: parsed.message, ...(typeof parsed.code === 'string' ? { code: parsed.code } : {}) };
  } catch {
    return { message: text };
  }
}

async function exporterOf(name: 'otlp' | 'console', settings: TracingSettings): Promise<SpanExporter> {
  if (name === 'console') return new ConsoleSpanExporter();
  // The constructors read OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT, _COMPRESSION.
  if (settings.protocol === 'http/json') return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
  return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
}

class OtelTracing implements Tracing {
  constructor(
    readonly tracer: Tracer,
    readonly provider: BasicTracerProvider,
    readonly logger: Logger,
  ) {}

  start(req: IncomingMessage, parent: TraceParent | undefined, scheme: 'http' | 'https'): RequestSpan {
    const context = parent ? trace.setSpanContext(ROOT_CONTEXT, { traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.flags, isRemote: true }) : ROOT_CONTEXT;
    const method = req.method ?? 'GET';
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: method,
      [ATTR_URL_SCHEME]: scheme,
      [ATTR_NETWORK_PROTOCOL_VERSION]: req.httpVersion,
    };
    const host = req.headers.host;
    if (host !== undefined) {
      const { address, port } = splitHost(host);
      attributes[ATTR_SERVER_ADDRESS] = address;
      if (port !== undefined) attributes[ATTR_SERVER_PORT] = port;
    }
    return new OtelSpan(this.tracer.startSpan(method, { kind: SpanKind.SERVER, attributes }, context));
  }

  end(handle: RequestSpan, exchange: TracedExchange): void {
    const { span } = handle as OtelSpan;
    const method = exchange.method ?? 'GET';
    // The query string is left out, as in the access log: it often carries tokens.
    span.setAttribute(ATTR_URL_PATH, exchange.path);
    span.setAttribute(ATTR_CLIENT_ADDRESS, exchange.client);
    if (exchange.userAgent !== undefined) span.setAttribute(ATTR_USER_AGENT_ORIGINAL, exchange.userAgent);
    span.setAttribute('gatehouse.request_id', exchange.requestId);
    const endpoint = exchange.endpoint;
    if (endpoint) {
      const api = endpoint.apiConfig;
      const route = `${api.context}/${api.version}`;
      span.updateName(`${method} ${route}`);
      span.setAttribute(ATTR_HTTP_ROUTE, route);
      span.setAttribute('gatehouse.api', api.name);
      span.setAttribute('gatehouse.api.version', api.version);
      span.setAttribute('gatehouse.endpoint', endpoint.config.role);
    }
    if (exchange.upstream !== undefined) span.setAttribute('gatehouse.upstream.address', exchange.upstream);
    if (exchange.status !== CLIENT_CLOSED) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, exchange.status);
    // Server spans: a 5xx is an error, a 4xx is the client's (the semantic conventions' rule).
    if (exchange.code !== undefined) span.setAttribute(ATTR_ERROR_TYPE, exchange.code);
    else if (exchange.status >= 500 && exchange.status !== CLIENT_CLOSED) span.setAttribute(ATTR_ERROR_TYPE, String(exchange.status));
    if (exchange.status >= 500 && exchange.status !== CLIENT_CLOSED) span.setStatus({ code: SpanStatusCode.ERROR, ...(exchange.code ? { message: exchange.code } : {}) });
    span.end();
  }

  async shutdown(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), SHUTDOWN_MS).unref()));
    try {
      const outcome = await Promise.race([this.provider.shutdown().then(() => 'done' as const), deadline]);
      if (outcome === 'timeout') this.logger.warn({ component: 'tracing' }, `spans not exported within ${SHUTDOWN_MS / 1000} s of stopping were dropped`);
    } catch (error) {
      this.logger.warn({ component: 'tracing', error: error instanceof Error ? error.message : String(error) }, 'exporting the last spans failed');
    } finally {
      clearTimeout(timer);
    }
  }
}

/** `host:port`, `[v6]:port` or a bare host, as a Host header carries it. */
function splitHost(host: string): { address: string; port: number | undefined } {
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(host);
  if (!match) return { address: host, port: undefined };
  return { address: match[1]!.replace(/^\[|\]$/g, ''), port: match[2] === undefined ? undefined : Number(match[2]) };
}
