// A rule as the stores count it: which rules can be counted, and the name of a rule's counters.
import { SECOND_MS } from '../time.js';
import type { LimitRule } from './types.js';

/**
 * Why `rule` cannot be counted, or undefined. A window is a whole number of seconds, at least
 * one, in every store: rate-limiter-flexible's Redis limiter expires its keys with `EX`, in whole
 * seconds rounded down (1.5 s counts as 1 s), and a window below one second gets no expiry at all
 * (the count would never reset). Memory could count 500 ms; refusing it everywhere keeps a rule
 * meaning the same whatever the store.
 */
export function ruleProblem(rule: LimitRule): string | undefined {
  if (typeof rule.id !== 'string' || rule.id === '') return 'its id must be a non-empty string';
  if (!Number.isSafeInteger(rule.requests) || rule.requests < 1) return `requests must be a whole number ≥ 1 (got ${rule.requests})`;
  if (!Number.isSafeInteger(rule.perMs) || rule.perMs < SECOND_MS || rule.perMs % SECOND_MS !== 0) {
    return `the window must be a whole number of seconds ≥ 1 s (got ${rule.perMs} ms)`;
  }
  return undefined;
}

/** Throws the RangeError that says why `rule` cannot be counted, if it cannot. */
export function checkRule(rule: LimitRule): void {
  const problem = ruleProblem(rule);
  if (problem) throw new RangeError(`rate limit ${JSON.stringify(rule.id)}: ${problem}`);
}

/**
 * The prefix of a rule's counters (a counter is `<prefix>:<subject>`), e.g.
 * `gatehouse:limit:100/60000:plan%3AGold`. It depends on the rule alone, so that every replica and
 * worker counts in the same Redis keys. The figures are part of it: a rule whose figures change
 * starts fresh counts (the cluster primary keeps one counter per prefix, with the figures it was
 * first given). The id is URI-encoded so that it holds no colon: the subject is all that follows
 * the fourth, and two (rule, subject) pairs never share a key.
 */
export function counterPrefix(rule: LimitRule): string {
  return `gatehouse:limit:${rule.requests}/${rule.perMs}:${encodeURIComponent(rule.id)}`;
}
