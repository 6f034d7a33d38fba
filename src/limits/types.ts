// What a rate-limit store counts, what it answers, and what it says of itself (SPEC §11).

/**
 * One limit: `requests` per `perMs`. `id` is stable across replicas and reloads for the same rule,
 * e.g. 'api:Orders:1.0' or 'plan:Gold'. `perMs` is a whole number of seconds, at least one
 * (rules.ts says why).
 */
export interface LimitRule {
  readonly id: string;
  readonly requests: number;
  readonly perMs: number;
}

export type LimitOutcome =
  /** Figures of the tightest rule (fewest remaining; ties: soonest reset): what RateLimit-* headers show. */
  | { readonly kind: 'allowed'; readonly limit: number; readonly remaining: number; readonly resetMs: number }
  /**
   * `rule` refused: of the rules that refuse, the one that refuses longest, so that a client that
   * waits `retryAfterMs` is not refused again by another.
   */
  | { readonly kind: 'limited'; readonly rule: LimitRule; readonly limit: number; readonly remaining: 0; readonly resetMs: number; readonly retryAfterMs: number }
  /** The store could not answer within the bounded wait, or failed: the caller applies onStoreError. */
  | { readonly kind: 'unavailable'; readonly reason: string };

export type LimitStoreKind = 'memory' | 'cluster' | 'redis';

/** For /status, a log line and a metric: never holds a password. */
export interface LimitStoreState {
  readonly kind: LimitStoreKind;
  /** 'memory', or the Redis URL without its password. */
  readonly url: string;
  /** Whether requests are counted now. False for Redis while connecting and while it does not answer; memory and cluster are always reachable. */
  readonly reachable: boolean;
  /** Since when `reachable` holds (the store's creation until its first answer). */
  readonly since: Date;
  /** The last failure, kept after the store recovers. */
  readonly lastError?: { readonly message: string; readonly at: Date };
}

export interface LimitStore {
  readonly kind: LimitStoreKind;
  /**
   * One request of `subject` (an API key's name, or a client address) counted against every rule
   * of `rules` (at least one); all are counted, the tightest refuses (WSO2's rule).
   */
  consume(rules: readonly LimitRule[], subject: string): Promise<LimitOutcome>;
  /**
   * Checks `rules` and makes their counters now rather than on their first request: call it when a
   * snapshot is opened, so that a rule the store cannot count fails the snapshot (RangeError), and
   * a cluster worker's counters are introduced to the primary before the first request waits on it.
   */
  prepare(rules: readonly LimitRule[]): void;
  state(): LimitStoreState;
  /** Stops counting (consume then answers 'unavailable') and closes the connection to Redis, if any. */
  close(): Promise<void>;
}

export interface LimitStoreOptions {
  /** 'memory', or 'redis://[user:pass@]host:port[/db]' / 'rediss://…' */
  readonly url: string;
  /**
   * 'single': one process; 'worker': a node:cluster worker (memory counts live in the primary);
   * 'primary': the cluster primary, which hosts the shared memory counts and serves no requests.
   */
  readonly role: 'single' | 'worker' | 'primary';
  /** The longest a consume waits for the store before it answers 'unavailable' (DEFAULT_TIMEOUT_MS). */
  readonly timeoutMs?: number;
  /**
   * Told when the store becomes unreachable or reachable again, and of the first answer after its
   * creation (a log line and a metric); never with a password in it. It must not throw: it runs in
   * the Redis client's event handlers.
   */
  readonly onStateChange?: (state: LimitStoreState) => void;
}
