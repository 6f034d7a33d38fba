// Prometheus metrics (docs/operations.md), served by the admin address with prom-client's registry.
//
// Request metrics are counted by the proxy on every response, so they are kept in plain arrays per
// endpoint and turned into prom-client's values only when Prometheus scrapes: prom-client's own
// labels()/inc()/observe() hash the label set into a new string on every call, which is a per-
// request allocation the hot path does not need. The series of an endpoint is found by its
// access-log labels, a string built once per snapshot. Every label set is bounded by the
// configuration (API, version, endpoint role, status class, error code), never by request paths.
import { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { certificatesInUse } from '../config/usage.js';
import type { GatewayConfig } from '../config/types.js';
import { droppedLogLines } from '../log.js';
import type { CompletedRequest, RequestObserver } from '../proxy/handler.js';
import type { SnapshotHolder } from '../snapshot/holder.js';
import type { EndpointRuntime, Snapshot, TargetRuntime } from '../snapshot/snapshot.js';
import { VERSION } from '../version.js';

/** Latency buckets, seconds: a proxy's requests mostly take milliseconds; backends up to the socket timeout. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

/** Requests that matched no endpoint (NO_ROUTE) are counted under this API, version and endpoint. */
export const UNROUTED = '-';

type Labels = Record<string, string>;

/** A histogram's state: non-cumulative counts per bucket (the last slot is +Inf), sum and count. */
interface Histogram {
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

interface EndpointSeries {
  readonly labels: Labels;
  /** Responses by status class: index 1 for 1xx … 5; 0 for a client that left before the response (499). */
  readonly byClass: Float64Array;
  /** From the request to the end of its response. */
  readonly duration: Histogram;
  /** From the dispatch to the backend's response headers. */
  readonly backend: Histogram;
  /** Body bytes read from clients, written to them. */
  received: number;
  sent: number;
  /** Backend failures by code (BACKEND_*, CERTIFICATE_PENDING). */
  readonly errors: Map<string, number>;
  /** Requests to a secured API by outcome (AUTH_OUTCOMES): allowed, unauthenticated, forbidden, unavailable. */
  readonly auth: Float64Array;
  /** Requests a rate limit applies to, by outcome (LIMIT_OUTCOMES). */
  readonly limits: Float64Array;
}

const AUTH_OUTCOMES = ['allowed', 'unauthenticated', 'forbidden', 'unavailable'] as const;
const LIMIT_OUTCOMES = ['allowed', 'limited', 'store_error_allowed', 'store_error_denied'] as const;

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

/** Requests sent to one target of a group, by the target that answered last (a retry's second target). */
interface TargetSeries {
  readonly labels: Labels;
  count: number;
}

export class RequestMetrics implements RequestObserver {
  readonly #series = new Map<string, EndpointSeries>();
  /** By the endpoint's log labels and the target's URL: found once per snapshot through the target's slot. */
  readonly targets = new Map<string, TargetSeries>();
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
        all().flatMap((s) => histogramValues('gatehouse_request_duration_seconds', s.labels, s.duration)),
      ) as never,
    );
    registry.registerMetric(
      collector(
        'gatehouse_backend_duration_seconds',
        "Time from sending a request to the backend to the backend's response headers, by API, version and endpoint (requests a backend answered).",
        'histogram',
        () => all().flatMap((s) => histogramValues('gatehouse_backend_duration_seconds', s.labels, s.backend)),
      ) as never,
    );
    registry.registerMetric(
      collector('gatehouse_received_bytes_total', 'Request body bytes read from clients, by API, version and endpoint.', 'counter', () =>
        all()
          .filter((s) => s.duration.count > 0)
          .map((s) => ({ labels: s.labels, value: s.received })),
      ) as never,
    );
    registry.registerMetric(
      collector('gatehouse_sent_bytes_total', 'Response body bytes written to clients, by API, version and endpoint.', 'counter', () =>
        all()
          .filter((s) => s.duration.count > 0)
          .map((s) => ({ labels: s.labels, value: s.sent })),
      ) as never,
    );
    registry.registerMetric(
      collector(
        'gatehouse_auth_requests_total',
        'Requests to APIs that require a credential, by API, version and outcome: allowed, unauthenticated (401), forbidden (403), unavailable (503: a JWT API whose jwks URL was never fetched). A refused request has no endpoint: the series of an API sum its endpoints.',
        'counter',
        () => byApiOutcome(all(), (s) => s.auth, AUTH_OUTCOMES),
      ) as never,
    );
    registry.registerMetric(
      collector(
        'gatehouse_rate_limit_requests_total',
        'Requests that a rate limit applies to, by API, version and outcome: allowed, limited (429), store_error_allowed (the store did not answer; served uncounted, rateLimits.onStoreError: allow), store_error_denied (503 RATE_LIMIT_UNAVAILABLE).',
        'counter',
        () => byApiOutcome(all(), (s) => s.limits, LIMIT_OUTCOMES),
      ) as never,
    );
    registry.registerMetric(
      collector('gatehouse_backend_errors_total', 'Requests that failed toward the backend, by API, version, endpoint and error code (docs/errors.md).', 'counter', () =>
        all().flatMap((s) => [...s.errors].map(([code, value]) => ({ labels: { ...s.labels, code }, value }))),
      ) as never,
    );
  }

  /** Called once per request when its response is over. No allocation once the endpoint's series exists. */
  observe(request: CompletedRequest): void {
    const { endpoint, status, code } = request;
    // The endpoint's series is kept in its slot: found by its labels once per snapshot, not per request.
    const series = endpoint ? ((endpoint.observerSlot.value as EndpointSeries | undefined) ?? (endpoint.observerSlot.value = this.#series.get(endpoint.logLabels) ?? this.#add(endpoint))) : this.#unrouted;
    const statusClass = !request.clientClosed && status >= 100 && status < 600 ? Math.floor(status / 100) : 0;
    series.byClass[statusClass]!++;
    record(series.duration, request.durationMs / 1000);
    if (request.upstreamMs !== undefined) record(series.backend, request.upstreamMs / 1000);
    if (request.auth !== undefined) series.auth[AUTH_OUTCOMES.indexOf(request.auth)]!++;
    if (request.rateLimit !== undefined) series.limits[LIMIT_OUTCOMES.indexOf(request.rateLimit)]!++;
    series.received += request.bytesReceived;
    series.sent += request.bytesSent;
    if (code !== undefined && (code.startsWith('BACKEND_') || code === 'CERTIFICATE_PENDING' || code === 'NO_BACKEND_AVAILABLE')) series.errors.set(code, (series.errors.get(code) ?? 0) + 1);
    const target = request.target;
    if (target && endpoint?.group) {
      const slot = target.observerSlot;
      const counted = (slot.value as TargetSeries | undefined) ?? (slot.value = this.#addTarget(endpoint, target));
      counted.count++;
    }
  }

  #addTarget(endpoint: EndpointRuntime, target: TargetRuntime): TargetSeries {
    const key = `${endpoint.logLabels}\0${target.config.url}`;
    let series = this.targets.get(key);
    if (!series) this.targets.set(key, (series = { labels: targetLabels(endpoint, target), count: 0 }));
    return series;
  }

  #add(endpoint: EndpointRuntime): EndpointSeries {
    const series = newSeries({ api: endpoint.apiConfig.name, version: endpoint.apiConfig.version, endpoint: endpoint.config.role });
    this.#series.set(endpoint.logLabels, series);
    return series;
  }
}

function newSeries(labels: Labels): EndpointSeries {
  return { labels, byClass: new Float64Array(STATUS_CLASSES.length), duration: newHistogram(), backend: newHistogram(), received: 0, sent: 0, errors: new Map(), auth: new Float64Array(AUTH_OUTCOMES.length), limits: new Float64Array(LIMIT_OUTCOMES.length) };
}

/** Counts by outcome summed over an API's endpoints (a refused request has none: it counts under production), one series per API that has any. */
function byApiOutcome(all: readonly EndpointSeries[], counts: (s: EndpointSeries) => Float64Array, outcomes: readonly string[]): MetricValue<string>[] {
  const byApi = new Map<string, { labels: Labels; counts: number[] }>();
  for (const s of all) {
    const mine = counts(s);
    if (!mine.some((n) => n > 0)) continue;
    const key = `${s.labels.api}\0${s.labels.version}`;
    const entry = byApi.get(key) ?? { labels: { api: s.labels.api!, version: s.labels.version! }, counts: outcomes.map(() => 0) };
    mine.forEach((n, i) => (entry.counts[i]! += n));
    byApi.set(key, entry);
  }
  return [...byApi.values()].flatMap((e) => outcomes.map((outcome, i) => ({ labels: { ...e.labels, outcome }, value: e.counts[i]! })));
}

function newHistogram(): Histogram {
  return { buckets: new Float64Array(LATENCY_BUCKETS.length + 1), sum: 0, count: 0 };
}

function record(histogram: Histogram, seconds: number): void {
  let bucket = 0;
  while (bucket < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[bucket]!) bucket++;
  histogram.buckets[bucket]!++;
  histogram.sum += seconds;
  histogram.count++;
}

/** A histogram's samples as Prometheus wants them: cumulative buckets, +Inf, sum and count; none before a first observation. */
function histogramValues(name: string, labels: Labels, histogram: Histogram): MetricValue<string>[] {
  if (histogram.count === 0) return [];
  const values: MetricValue<string>[] = [];
  let cumulative = 0;
  LATENCY_BUCKETS.forEach((le, i) => {
    cumulative += histogram.buckets[i]!;
    values.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative } as MetricValue<string>);
  });
  values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: histogram.count } as MetricValue<string>);
  values.push({ metricName: `${name}_sum`, labels, value: histogram.sum } as MetricValue<string>);
  values.push({ metricName: `${name}_count`, labels, value: histogram.count } as MetricValue<string>);
  return values;
}

function gaugeCollector(name: string, help: string, values: () => MetricValue<string>[]): Omit<Collector, 'type'> & { type: 'gauge' } {
  return { ...collector(name, help, 'counter', values), type: 'gauge', get: () => ({ name, help, type: 'gauge', aggregator: 'sum', values: values() }) };
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

function targetLabels(endpoint: EndpointRuntime, target: TargetRuntime): Labels {
  return { api: endpoint.apiConfig.name, version: endpoint.apiConfig.version, endpoint: endpoint.config.role, target: target.config.url };
}

/** The endpoints of a snapshot that are groups, found once per snapshot. */
const groupsOf = new WeakMap<Snapshot, readonly EndpointRuntime[]>();

/**
 * Each target of every endpoint group (SPEC §8): whether it takes requests, its transport
 * failures, its requests. Read from the snapshot served at scrape time; with workers, each worker
 * reports its own and the primary sums them (available: how many serving processes see it so).
 */
function registerTargetMetrics(registry: Registry, holder: SnapshotHolder, requests: RequestMetrics): void {
  const groups = (): readonly EndpointRuntime[] => {
    const snapshot = holder.current;
    let found = groupsOf.get(snapshot);
    if (!found) groupsOf.set(snapshot, (found = [...snapshot.endpoints.values()].filter((e) => e.config.group)));
    return found;
  };
  const perTarget = (value: (endpoint: EndpointRuntime, target: TargetRuntime, nowMs: number) => number | undefined) => (): MetricValue<string>[] => {
    const nowMs = Date.now();
    return groups().flatMap((endpoint) =>
      endpoint.targets.flatMap((target) => {
        const v = value(endpoint, target, nowMs);
        return v === undefined ? [] : [{ labels: targetLabels(endpoint, target), value: v }];
      }),
    );
  };
  const ready = (endpoint: EndpointRuntime, target: TargetRuntime) => endpoint.group !== undefined && target.pool !== undefined;
  registry.registerMetric(
    gaugeCollector(
      'gatehouse_target_available',
      'Whether each target of an endpoint group takes requests: 1, or 0 while it is suspended or waits for its certificate (with workers: how many workers see it available).',
      perTarget((endpoint, target, nowMs) => (ready(endpoint, target) && endpoint.group!.isAvailable(target, nowMs) ? 1 : 0)),
    ) as never,
  );
  registry.registerMetric(
    collector(
      'gatehouse_target_transport_failures_total',
      'Transport failures of each target of an endpoint group (refused, reset before a response, TLS refused, timeouts): each one suspends the target.',
      'counter',
      perTarget((endpoint, target) => (ready(endpoint, target) ? endpoint.group!.failuresOf(target) : undefined)),
    ) as never,
  );
  registry.registerMetric(
    collector('gatehouse_target_requests_total', 'Requests by the target of an endpoint group that took them last (a retried request counts for the second target).', 'counter', () =>
      [...requests.targets.values()].map((s) => ({ labels: s.labels, value: s.count })),
    ) as never,
  );
}

export type ReloadResult = 'applied' | 'rejected' | 'unchanged';

/**
 * prom-client's default metrics that promtool's lint refuses: gauges named *_total (a suffix for
 * counters only). Each has a per-type gauge beside it (nodejs_active_handles{type}…) whose sum
 * says the same.
 */
const GAUGES_NAMED_TOTAL = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export interface GatewayMetricsOptions {
  /** Requests the listeners accepted whose response is not over yet. */
  readonly inFlight?: () => number;
  /** WebSocket tunnels open. */
  readonly tunnels?: () => number;
  /**
   * Which series this process serves (docs/operations.md, "Workers"): all of them (one process);
   * a worker's, of the requests it served and its own process; or the primary's, of the
   * configuration and the workers, which also sums the workers' (`gather`) into one scrape.
   */
  readonly role?: 'single' | 'worker' | 'primary';
  /** The primary's: the workers' metrics (registry.getMetricsAsJSON() of each), at scrape time. */
  readonly gather?: () => Promise<MetricObjectWithValues<MetricValue<string>>[][]>;
}

/** Everything /metrics serves: the process, the requests, the configuration and the certificates. */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests: RequestMetrics;
  readonly #reloads: Counter<'result'> | undefined;
  readonly #lastSuccess: Gauge | undefined;
  readonly #lastSuccessful: Gauge | undefined;
  readonly #workerRestarts: Counter | undefined;
  readonly #lostRequests: Counter | undefined;
  readonly #gather: GatewayMetricsOptions['gather'];
  /** The certificate expiry gauge, rendered once per configuration (absent on a worker: it is the configuration's). */
  readonly #certificates: (() => Promise<string>) | undefined;

  constructor(holder: SnapshotHolder, options: GatewayMetricsOptions = {}) {
    const registry = this.registry;
    const role = options.role ?? 'single';
    this.#gather = options.gather;
    collectDefaultMetrics({ register: registry });
    for (const name of GAUGES_NAMED_TOTAL) registry.removeSingleMetric(name);
    this.requests = new RequestMetrics(registry);
    new Counter({
      name: 'gatehouse_log_lines_dropped_total',
      help: 'Log lines dropped because the log destination failed (a full disk, a closed pipe) or did not keep up; the proxy serves on regardless.',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(droppedLogLines());
      },
    });
    const { inFlight, tunnels } = options;
    new Gauge({
      name: 'gatehouse_websocket_tunnels',
      help: 'WebSocket tunnels open (each also counts in gatehouse_requests_in_flight until it closes).',
      registers: [registry],
      collect() {
        this.set(tunnels?.() ?? 0);
      },
    });
    new Gauge({
      name: 'gatehouse_requests_in_flight',
      help: 'Requests accepted whose response is not over yet.',
      registers: [registry],
      collect() {
        this.set(inFlight?.() ?? 0);
      },
    });
    // The primary of workers serves no request: its groups never see a failure, and its "available"
    // would add one to the workers' count of every target.
    if (role !== 'primary') registerTargetMetrics(registry, holder, this.requests);
    // A worker's series end here: those of the configuration are the primary's alone (summed
    // over workers, a generation or a timestamp would mean nothing).
    if (role === 'worker') return;
    if (role === 'primary') {
      this.#workerRestarts = new Counter({
        name: 'gatehouse_worker_restarts_total',
        help: 'Workers that exited unexpectedly and were replaced (listen.workers above 1).',
        registers: [registry],
      });
      this.#lostRequests = new Counter({
        name: 'gatehouse_worker_lost_requests_total',
        help: 'Requests in flight on workers that exited unexpectedly (as last reported by the worker, at most half a second before): their clients saw the connection reset.',
        registers: [registry],
      });
    }
    new Gauge({
      name: 'gatehouse_build_info',
      help: 'Always 1; its labels say which Gatehouse and which Node.js serve (version, node).',
      labelNames: ['version', 'node'],
      registers: [registry],
    }).set({ version: VERSION, node: process.version }, 1);
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
    this.#certificates = () => certificateExpiry(holder.current.config);
    // The primary's store watches the workers' Redis (limits/store.ts): its state is the process's.
    registry.registerMetric(
      gaugeCollector('gatehouse_rate_limit_store_up', 'Whether the rate-limit store answers: 1, or 0 while Redis does not (requests then get rateLimits.onStoreError); absent when nothing is rate limited. The store label is memory or the Redis URL without its password.', () => {
        const store = holder.current.limits?.store;
        if (!store) return [];
        const state = store.state();
        return [{ labels: { store: state.url }, value: state.reachable ? 1 : 0 }];
      }) as never,
    );
  }

  reloaded(result: ReloadResult): void {
    this.#reloads?.inc({ result });
    if (result === 'applied') this.#lastSuccess?.setToCurrentTime();
    this.#lastSuccessful?.set(result === 'rejected' ? 0 : 1);
  }

  /** The primary's: a worker exited unexpectedly with `lost` requests in flight, and is replaced. */
  workerRestarted(lost: number): void {
    this.#workerRestarts?.inc();
    this.#lostRequests?.inc(lost);
  }

  /** The scrape: this process's series, summed with the workers' by prom-client's cluster aggregation. */
  async metrics(): Promise<string> {
    const certificates = await this.#certificates?.();
    let text: string;
    if (!this.#gather) text = await this.registry.metrics();
    else {
      const [own, workers] = await Promise.all([this.registry.getMetricsAsJSON(), this.#gather()]);
      text = await AggregatorRegistry.aggregate([own, ...workers] as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
    }
    return certificates ? `${text}\n${certificates}` : text;
  }
}

/**
 * gatehouse_certificate_not_after_seconds of a configuration, as prom-client renders it, made once
 * per configuration: its series (one per certificate in use) change only with a reload. At 5,000
 * certificates, collecting and rendering them on every scrape held the serving thread ~25 ms.
 * The set follows the configuration: certificates no longer used leave the scrape.
 */
const certificateExpiryText = new WeakMap<GatewayConfig, Promise<string>>();

function certificateExpiry(config: GatewayConfig): Promise<string> {
  let text = certificateExpiryText.get(config);
  if (!text) certificateExpiryText.set(config, (text = renderCertificateExpiry(config)));
  return text;
}

async function renderCertificateExpiry(config: GatewayConfig): Promise<string> {
  const registry = new Registry();
  const gauge = new Gauge({
    name: 'gatehouse_certificate_not_after_seconds',
    help: "Expiry (notAfter, Unix seconds) of every certificate in use: use=trust, trusted for a backend; use=client, presented to a backend (clientCertificate); use=listener, the HTTPS listener's own (alias of listen.https.certificate).",
    labelNames: ['alias', 'fingerprint', 'use'],
    registers: [registry],
  });
  const inUse = certificatesInUse(config);
  // Each step is a few milliseconds at 5,000 certificates; requests are served between them.
  await nextTurn();
  for (const { alias, fingerprint256, notAfterMs, use } of inUse) gauge.set({ alias, fingerprint: fingerprint256, use }, notAfterMs / 1000);
  await nextTurn();
  return registry.metrics();
}
