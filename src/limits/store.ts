// The rate-limit store (SPEC §11): counts each request of a subject against the rules that apply
// to it, with rate-limiter-flexible's limiters (one per distinct rule, made on first use and kept),
// in this process's memory, in the memory of the cluster primary, or in Redis; and answers within
// a bounded wait, whatever the store does.
import cluster from 'node:cluster';
import { RateLimiterCluster, RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { SECOND_MS } from '../time.js';
import { hostClusterCounts } from './cluster.js';
import { count, outcomeOf } from './outcome.js';
import type { Counter } from './outcome.js';
import { parseStoreUrl } from '../config/store-url.js';
import { RedisConnection } from './redis.js';
import { checkRule, counterPrefix } from './rules.js';
import type { LimitOutcome, LimitRule, LimitStore, LimitStoreKind, LimitStoreOptions, LimitStoreState } from './types.js';

export type { LimitOutcome, LimitRule, LimitStore, LimitStoreKind, LimitStoreOptions, LimitStoreState } from './types.js';
export { hostClusterCounts, isLimitStoreMessage } from './cluster.js';

/**
 * How long a consume waits for Redis or the cluster primary by default. A Redis round trip on a
 * LAN takes well under a millisecond and one over IPC less still; 100 ms leaves room for a busy
 * event loop (a GC pause, a shared core) while no request waits long on a store that is gone.
 */
export const DEFAULT_TIMEOUT_MS = 100;

export function createLimitStore(options: LimitStoreOptions): LimitStore {
  const { role, onStateChange } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new RangeError(`rate limits: timeoutMs must be a number of milliseconds > 0 (got ${timeoutMs})`);
  if (role === 'worker' && !cluster.isWorker) throw new Error("rate limits: role 'worker' counts in a node:cluster worker; this process is none");
  const parsed = parseStoreUrl(options.url);
  if ('problem' in parsed) throw new Error(`rate limits: ${parsed.problem}`);
  const redisUrl = parsed.redis;
  if (redisUrl) {
    const connection = new RedisConnection(redisUrl, onStateChange);
    // The primary serves no requests; its connection tells /status whether Redis answers.
    if (role === 'primary') return new PrimaryStore('redis', () => connection.state(), () => connection.close());
    const counter = (rule: LimitRule, keyPrefix: string): Counter =>
      // useRedisPackage: rate-limiter-flexible recognizes node-redis by a class name that node-redis 5+ no longer has.
      new RateLimiterRedis({ storeClient: connection.client, useRedisPackage: true, points: rule.requests, duration: rule.perMs / SECOND_MS, keyPrefix });
    return new CountingStore('redis', connection.url, counter, timeoutMs, connection);
  }
  switch (role) {
    case 'single':
      return new CountingStore('memory', 'memory', (rule, keyPrefix) => new RateLimiterMemory({ points: rule.requests, duration: rule.perMs / SECOND_MS, keyPrefix }), undefined);
    case 'worker':
      // timeoutMs: the limiter forgets a question the primary did not answer in time.
      return new CountingStore('cluster', 'memory', (rule, keyPrefix) => new RateLimiterCluster({ points: rule.requests, duration: rule.perMs / SECOND_MS, keyPrefix, timeoutMs }), timeoutMs);
    case 'primary': {
      hostClusterCounts();
      const since = new Date();
      return new PrimaryStore('cluster', () => ({ kind: 'cluster', url: 'memory', reachable: true, since }), () => Promise.resolve());
    }
  }
}

/** Memory, the cluster's memory or Redis: each rule counted by a limiter of that store. */
class CountingStore implements LimitStore {
  /**
   * The counters by rule object (a snapshot passes the same rules request after request: one
   * lookup, no key to build), and by what they count, so that equal rules of another snapshot
   * (a reload) count on the same counters.
   */
  readonly #byRule = new WeakMap<LimitRule, Counter>();
  readonly #byPrefix = new Map<string, Counter>();
  readonly #since = new Date();
  #lastError: LimitStoreState['lastError'];
  #closed = false;

  constructor(
    readonly kind: LimitStoreKind,
    readonly url: string,
    readonly makeCounter: (rule: LimitRule, keyPrefix: string) => Counter,
    /** Undefined for memory, which answers before the next tick anyway. */
    readonly timeoutMs: number | undefined,
    readonly connection?: RedisConnection,
  ) {}

  async consume(rules: readonly LimitRule[], subject: string): Promise<LimitOutcome> {
    if (rules.length === 0) throw new RangeError('rate limits: a request is counted against one rule at least');
    if (this.#closed) return { kind: 'unavailable', reason: 'the rate-limit store is closed' };
    // Nothing is sent to a Redis that is known not to answer: the request gets its answer now.
    if (this.connection && !this.connection.reachable) return { kind: 'unavailable', reason: this.connection.why };
    // The rules' commands leave in the same tick: node-redis writes them together, one round trip.
    const counting = Promise.all(rules.map((rule) => count(this.#counter(rule), rule, subject)));
    const counts = this.timeoutMs === undefined ? await counting : await within(counting, this.timeoutMs);
    if (!counts) return { kind: 'unavailable', reason: this.#failed(`no answer from ${this.kind === 'redis' ? this.url : 'the cluster primary'} within ${this.timeoutMs} ms`) };
    return outcomeOf(counts, (error) => this.#failed(error));
  }

  prepare(rules: readonly LimitRule[]): void {
    for (const rule of rules) this.#counter(rule);
  }

  state(): LimitStoreState {
    if (this.connection) return this.connection.state();
    return { kind: this.kind, url: this.url, reachable: true, since: this.#since, ...(this.#lastError && { lastError: this.#lastError }) };
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.connection?.close();
  }

  #counter(rule: LimitRule): Counter {
    let counter = this.#byRule.get(rule);
    if (!counter) {
      checkRule(rule);
      const keyPrefix = counterPrefix(rule);
      counter = this.#byPrefix.get(keyPrefix) ?? this.makeCounter(rule, keyPrefix);
      this.#byPrefix.set(keyPrefix, counter);
      this.#byRule.set(rule, counter);
    }
    return counter;
  }

  /** Keeps a failure for state(); returns its message (passwords removed) for the outcome's reason. */
  #failed(error: unknown): string {
    if (this.connection) return this.connection.failed(error);
    const message = error instanceof Error ? error.message : String(error);
    this.#lastError = { message, at: new Date() };
    return message;
  }
}

/** The cluster primary's store: it serves no requests, it hosts (memory) or watches (Redis). */
class PrimaryStore implements LimitStore {
  constructor(
    readonly kind: LimitStoreKind,
    readonly state: () => LimitStoreState,
    readonly close: () => Promise<void>,
  ) {}

  consume(): Promise<LimitOutcome> {
    return Promise.reject(new Error("rate limits: the cluster primary serves no requests; its workers count them (role 'worker')"));
  }

  prepare(rules: readonly LimitRule[]): void {
    for (const rule of rules) checkRule(rule);
  }
}

/** `promise`'s value, or undefined once `ms` have passed without it. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms, undefined);
    promise.then((value) => {
      clearTimeout(timer);
      resolve(value);
    }, reject);
  });
}
