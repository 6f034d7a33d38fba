// Prometheus metrics (docs/operations.md), served by the admin address with prom-client's registry.
//
// Request metrics are counted by the proxy on every response, so they are kept in plain arrays per
// endpoint and turned into prom-client's values only when Prometheus scrapes: prom-client's own
// labels()/inc()/observe() hash the label set into a new string on every call, which is a per-
// request allocation the hot path does not need. The series of an endpoint is found by its
// access-log labels, a string built once per snapshot. Every label set is bounded by the
// configuration (API, version, endpoint role, status class, error code), never by request paths.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricValue } from 'prom-client';
import { certificatesInUse } from '../config/usage.js';
import type { RequestCode } from '../errors.js';
import { droppedLogLines } from '../log.js';
import type { RequestObserver } from '../proxy/handler.js';
import type { SnapshotHolder } from '../snapshot/holder.js';
import type { EndpointRuntime } from '../snapshot/snapshot.js';

/** Latency buckets, seconds: a proxy's requests mostly take milliseconds; backends up to the socket timeout. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

/** Requests that matched no endpoint (NO_ROUTE) are counted under this API, version and endpoint. */
export const UNROUTED = '-';

type Labels = Record<string, string>;

interface EndpointSeries {
  readonly labels: Labels;
  /** Responses by status class: index 1 for 1xx … 5; 0 for a client that left before the response (499). */
  readonly byClass: Float64Array;
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
  /** Backend failures by code (BACKEND_*, CERTIFICATE_PENDING). */
  readonly errors: Map<string, number>;
}

const STATUS_CLASSES = ['client_closed', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/**
 * A custom collector in prom-client's registry: the registry calls get() at scrape time and
 * formats what it returns, as it does for its own metric classes.
 */
interface Collector {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly aggregator: 'sum';
  get(): { name: string; help: string; type: string; aggregator: 'sum'; values: MetricValue<string>[] };
  reset(): void;
}

export class RequestMetrics implements RequestObserver {
  readonly #series = new Map<string, EndpointSeries>();
  readonly #unrouted: EndpointSeries;

  constructor(registry: Registry) {
    this.#unrouted = newSeries({ api: UNROUTED, version: UNROUTED, endpoint: UNROUTED });
    const all = () => [this.#unrouted, ...this.#series.values()];
    registry.registerMetric(
      collector('gatehouse_requests_total', 'Responses by API, version, endpoint (production or sandbox) and status class (client_closed: the client left first).', 'counter', () =>
        all().flatMap((s) => STATUS_CLASSES.flatMap((statusClass, i) => (s.byClass[i]! > 0 ? [{ labels: { ...s.labels, status_class: statusClass }, value: s.byClass[i]! }] : []))),
      ) as never,
    );
    registry.registerMetric(
      collector('gatehouse_request_duration_seconds', 'Time from the request to the end of its response, by API, version and endpoint.', 'histogram', () =>
        all()
          .filter((s) => s.count > 0)
          .flatMap((s) => {
            const values: MetricValue<string>[] = [];
            let cumulative = 0;
            LATENCY_BUCKETS.forEach((le, i) => {
              cumulative += s.buckets[i]!;
              values.push({ metricName: 'gatehouse_request_duration_seconds_bucket', labels: { ...s.labels, le }, value: cumulative } as MetricValue<string>);
            });
            values.push({ metricName: 'gatehouse_request_duration_seconds_bucket', labels: { ...s.labels, le: '+Inf' }, value: s.count } as MetricValue<string>);
            values.push({ metricName: 'gatehouse_request_duration_seconds_sum', labels: s.labels, value: s.sum } as MetricValue<string>);
            values.push({ metricName: 'gatehouse_request_duration_seconds_count', labels: s.labels, value: s.count } as MetricValue<string>);
            return values;
          }),
      ) as never,
    );
    registry.registerMetric(
      collector('gatehouse_backend_errors_total', 'Requests that failed toward the backend, by API, version, endpoint and error code (docs/errors.md).', 'counter', () =>
        all().flatMap((s) => [...s.errors].map(([code, value]) => ({ labels: { ...s.labels, code }, value }))),
      ) as never,
    );
  }

  /** Called once per request when its response is over (status 0: the client left first). No allocation once the endpoint's series exists. */
  observe(endpoint: EndpointRuntime | undefined, status: number, seconds: number, code: RequestCode | undefined): void {
    const series = endpoint ? (this.#series.get(endpoint.logLabels) ?? this.#add(endpoint)) : this.#unrouted;
    const statusClass = status >= 100 && status < 600 ? Math.floor(status / 100) : 0;
    series.byClass[statusClass]!++;
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[bucket]!) bucket++;
    series.buckets[bucket]!++;
    series.sum += seconds;
    series.count++;
    if (code !== undefined && (code.startsWith('BACKEND_') || code === 'CERTIFICATE_PENDING')) series.errors.set(code, (series.errors.get(code) ?? 0) + 1);
  }

  #add(endpoint: EndpointRuntime): EndpointSeries {
    const series = newSeries({ api: endpoint.apiConfig.name, version: endpoint.apiConfig.version, endpoint: endpoint.config.role });
    this.#series.set(endpoint.logLabels, series);
    return series;
  }
}

function newSeries(labels: Labels): EndpointSeries {
  return { labels, byClass: new Float64Array(STATUS_CLASSES.length), buckets: new Float64Array(LATENCY_BUCKETS.length + 1), sum: 0, count: 0, errors: new Map() };
}

function collector(name: string, help: string, type: Collector['type'], values: () => MetricValue<string>[]): Collector {
  return {
    name,
    help,
    type,
    aggregator: 'sum',
    get: () => ({ name, help, type, aggregator: 'sum', values: values() }),
    reset: () => undefined,
  };
}

export type ReloadResult = 'applied' | 'rejected' | 'unchanged';

/** Everything /metrics serves: the process, the requests, the configuration and the certificates. */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests: RequestMetrics;
  readonly #reloads: Counter<'result'>;
  readonly #lastSuccess: Gauge;
  readonly #lastSuccessful: Gauge;

  constructor(holder: SnapshotHolder) {
    const registry = this.registry;
    collectDefaultMetrics({ register: registry });
    this.requests = new RequestMetrics(registry);
    new Gauge({
      name: 'gatehouse_config_generation',
      help: 'The generation of the configuration being served: 1 at start, +1 for every reload applied.',
      registers: [registry],
      collect() {
        this.set(holder.current.generation);
      },
    });
    this.#reloads = new Counter({
      name: 'gatehouse_config_reloads_total',
      help: 'Reloads by result: applied, rejected (the running configuration kept serving), unchanged (the files had the same content).',
      labelNames: ['result'],
      registers: [registry],
    });
    for (const result of ['applied', 'rejected', 'unchanged'] as const) this.#reloads.inc({ result }, 0);
    this.#lastSuccess = new Gauge({
      name: 'gatehouse_config_last_reload_success_timestamp_seconds',
      help: 'When the configuration being served was loaded (at start, or by the last reload applied), in Unix seconds.',
      registers: [registry],
    });
    this.#lastSuccess.setToCurrentTime();
    // Prometheus's own convention (prometheus_config_last_reload_successful): an alert on it
    // clears once the files are fixed or restored, which a count of rejections never does.
    this.#lastSuccessful = new Gauge({
      name: 'gatehouse_config_last_reload_successful',
      help: 'Whether the files on disk are what is served: 1 after a start or a reload applied or found unchanged, 0 after a reload rejected.',
      registers: [registry],
    });
    this.#lastSuccessful.set(1);
    new Counter({
      name: 'gatehouse_log_lines_dropped_total',
      help: 'Log lines dropped because the log destination failed (a full disk, a closed pipe) or did not keep up; the proxy serves on regardless.',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(droppedLogLines());
      },
    });
    new Gauge({
      name: 'gatehouse_certificate_not_after_seconds',
      help: "Expiry (notAfter, Unix seconds) of every certificate an endpoint trusts for its backend, and of the HTTPS listener's own (alias of listen.https.certificate).",
      labelNames: ['alias', 'fingerprint'],
      registers: [registry],
      collect() {
        // The set follows the configuration: certificates no longer used disappear from the scrape.
        this.reset();
        for (const { alias, fingerprint256, notAfterMs } of certificatesInUse(holder.current.config)) this.set({ alias, fingerprint: fingerprint256 }, notAfterMs / 1000);
      },
    });
  }

  reloaded(result: ReloadResult): void {
    this.#reloads.inc({ result });
    if (result === 'applied') this.#lastSuccess.setToCurrentTime();
    this.#lastSuccessful.set(result === 'rejected' ? 0 : 1);
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
