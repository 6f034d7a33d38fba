// What one request's counts add up to: each rule's counter answers on its own (counted, over its
// limit, or failed), and the request's outcome is the tightest of them.
import { RateLimiterRes } from 'rate-limiter-flexible';
import type { LimitOutcome, LimitRule } from './types.js';

/** A rule's counter: rate-limiter-flexible's limiters, whatever their store. */
export interface Counter {
  consume(key: string): Promise<RateLimiterRes>;
}

export type Count =
  | { readonly rule: LimitRule; readonly res: RateLimiterRes; readonly over: boolean }
  | { readonly rule: LimitRule; readonly error: unknown };

/**
 * One request of `subject` on `rule`'s counter; never rejects. rate-limiter-flexible counts the
 * request even when it is over the limit, and then rejects with the RateLimiterRes; it rejects with
 * an Error when the store fails.
 */
export function count(counter: Counter, rule: LimitRule, subject: string): Promise<Count> {
  return counter.consume(subject).then(
    (res) => ({ rule, res, over: false }),
    (reason: unknown) => (reason instanceof RateLimiterRes ? { rule, res: reason, over: true } : { rule, error: reason }),
  );
}

/**
 * The outcome of a request counted on every rule. A refusal wins over a failure (one rule's store
 * failing does not make another rule's refusal unknown); a failure wins over the allowance.
 */
export function outcomeOf(counts: readonly Count[], describe: (error: unknown) => string): LimitOutcome {
  let tightest: (Count & { res: RateLimiterRes }) | undefined;
  let refusing: (Count & { res: RateLimiterRes }) | undefined;
  let failed: { readonly error: unknown } | undefined;
  for (const c of counts) {
    if (!('res' in c)) {
      failed ??= c;
    } else if (c.over) {
      if (!refusing || c.res.msBeforeNext > refusing.res.msBeforeNext) refusing = c;
    } else if (!tightest || c.res.remainingPoints < tightest.res.remainingPoints || (c.res.remainingPoints === tightest.res.remainingPoints && c.res.msBeforeNext < tightest.res.msBeforeNext)) {
      tightest = c;
    }
  }
  if (refusing) {
    const resetMs = msUntilReset(refusing.res);
    return { kind: 'limited', rule: refusing.rule, limit: refusing.rule.requests, remaining: 0, resetMs, retryAfterMs: resetMs };
  }
  if (failed || !tightest) return { kind: 'unavailable', reason: describe(failed?.error) };
  return { kind: 'allowed', limit: tightest.rule.requests, remaining: tightest.res.remainingPoints, resetMs: msUntilReset(tightest.res) };
}

// Redis answers -1 for a key without expiry (which the limiter's script never leaves) and memory
// could answer a few ms below 0 at the very end of a window: the headers never show a negative.
function msUntilReset(res: RateLimiterRes): number {
  return Math.max(0, res.msBeforeNext);
}
