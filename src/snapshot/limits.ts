// Rate limits in a snapshot (SPEC §11, docs/security.md): the rules each API's requests are counted
// against, built once per configuration, and the store that counts them, kept by the process
// across snapshots while the configuration names the same store.
//
// An API's own rateLimit counts each caller of the API (a key, a token's subject, or a client
// address); a key's plan counts the key on each API it calls, as WSO2's subscription tiers do.
// When both apply both are counted, and the tighter refuses (the store decides: limits/outcome.ts).
import { createLimitStore } from '../limits/store.js';
import type { LimitRule, LimitStore, LimitStoreState } from '../limits/store.js';
import type { ApiConfig, GatewayConfig, PlanConfig } from '../config/types.js';
import type { Logger } from '../log.js';

/** The rules of one API: its own, and for a key of each plan its own and the plan's. */
export interface ApiLimits {
  /** [the API's rule], or [] when it has none (then only keys with a plan are counted). */
  readonly own: readonly LimitRule[];
  /** By plan name: the rules for a key of that plan. */
  readonly byPlan: ReadonlyMap<string, readonly LimitRule[]>;
}

/** What the snapshot counts with: the store, and what a request gets when it does not answer. */
export interface SnapshotLimits {
  readonly store: LimitStore;
  readonly onStoreError: 'allow' | 'deny';
}

/** A rule id names what it limits: stable across reloads and replicas, so that they count on the same counters. */
function apiRule(api: ApiConfig): LimitRule | undefined {
  return api.rateLimit && { id: `api:${api.name}:${api.version}`, requests: api.rateLimit.requests, perMs: api.rateLimit.perMs };
}

function planRule(plan: PlanConfig, api: ApiConfig): LimitRule {
  return { id: `plan:${plan.name}:${api.name}:${api.version}`, requests: plan.requests, perMs: plan.perMs };
}

/** The rules of `api`, or undefined when nothing limits it: no rateLimit, and no plan for its keys. */
export function apiLimitsOf(api: ApiConfig, plans: readonly PlanConfig[]): ApiLimits | undefined {
  const own = apiRule(api);
  // Plans apply to keys: an API that takes none counts by its own rule only.
  const keyed = api.security?.apiKey !== undefined && plans.length > 0;
  if (!own && !keyed) return undefined;
  const byPlan = new Map<string, readonly LimitRule[]>();
  if (keyed) for (const plan of plans) byPlan.set(plan.name, own ? [own, planRule(plan, api)] : [planRule(plan, api)]);
  return { own: own ? [own] : [], byPlan };
}

/** Whether `config` limits anything: only then is a store opened (a Redis connected to). */
export function usesLimits(config: GatewayConfig): boolean {
  return config.apis.some((api) => api.rateLimit !== undefined) || (config.plans.length > 0 && config.keys !== undefined);
}

/**
 * The process's stores, one per store URL, opened when a snapshot first needs one and closed when
 * the last snapshot using it retires. Which limiter a store uses depends on the process: one that
 * serves alone ('single'), a node:cluster worker (memory counts in the primary), or the primary
 * (which serves nothing: it hosts the workers' memory counts and watches Redis for /status).
 */
export class LimitStores {
  readonly #stores = new Map<string, LimitStore>();

  constructor(
    readonly role: 'single' | 'worker' | 'primary',
    /** Told when a store becomes reachable or not (a log line): never with a password in it. */
    readonly onStateChange?: (state: LimitStoreState) => void,
  ) {}

  /** The store of `url` (memory or a Redis URL, checked by the configuration), made on first use. */
  open(url: string): LimitStore {
    let store = this.#stores.get(url);
    if (!store) {
      store = createLimitStore({ url, role: this.role, ...(this.onStateChange ? { onStateChange: this.onStateChange } : {}) });
      this.#stores.set(url, store);
    }
    return store;
  }

  /** Closes `store`: no snapshot uses it any more (a second call for the same store does nothing). */
  async release(store: LimitStore): Promise<void> {
    for (const [url, open] of this.#stores) {
      if (open !== store) continue;
      this.#stores.delete(url);
      await store.close();
    }
  }

  /** The state of every open store (one, unless a reload changed the store and the old one still drains). */
  states(): LimitStoreState[] {
    return [...this.#stores.values()].map((store) => store.state());
  }
}

/**
 * The log lines of a store's state (RATE_LIMIT_STORE): a warning when it stops answering, an info
 * line when it answers (the first time, and again after a failure). `onStoreError` is read when it
 * happens: the configuration served then says what requests get.
 */
export function logStoreState(logger: Logger, onStoreError: () => 'allow' | 'deny'): (state: LimitStoreState) => void {
  return (state) => {
    if (state.reachable) {
      logger.info({ code: 'RATE_LIMIT_STORE', store: state.url }, `rate limits: counting in ${state.url}`);
      return;
    }
    const then = onStoreError() === 'deny' ? 'are refused with 503 RATE_LIMIT_UNAVAILABLE' : 'are served uncounted';
    logger.warn(
      { code: 'RATE_LIMIT_STORE', store: state.url, error: state.lastError?.message },
      `rate limits: ${state.url} does not answer (${state.lastError?.message ?? 'no answer yet'}): requests that a limit applies to ${then} (rateLimits.onStoreError: ${onStoreError()}) until it does; reconnecting`,
    );
  };
}
