// Memory counts shared by the workers of one process (SPEC §7, §11): the primary hosts them in
// rate-limiter-flexible's RateLimiterClusterMaster, and each worker counts through a
// RateLimiterCluster, which asks the primary over node:cluster's IPC channel, the channel that
// Gatehouse's own messages (workers/protocol.ts) take too.
//
// The two kinds of messages tell each other apart by shape. rate-limiter-flexible's carry
// `channel: 'rate_limiter_flexible'` and its listeners skip anything else; Gatehouse's listeners
// see its messages too (`type` 'init', 'resolve', 'reject'; no `id`) and skip them with
// isLimitStoreMessage().
import cluster from 'node:cluster';
import { RateLimiterClusterMaster } from 'rate-limiter-flexible';

/** The `channel` of every message rate-limiter-flexible's cluster limiters send, either way. */
export const LIMITS_CHANNEL = 'rate_limiter_flexible';

/** True for a message of the cluster's counters, which Gatehouse's own listeners skip. */
export function isLimitStoreMessage(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { readonly channel?: unknown }).channel === LIMITS_CHANNEL;
}

/**
 * Hosts the counts of the workers in this process, the cluster primary. Call it before the first
 * worker is forked: a worker's counter introduces itself to the primary once, when it is made, and
 * one whose introduction went unheard waits for an answer forever (each of its consumes then
 * answers 'unavailable'). rate-limiter-flexible keeps one host per process whatever the calls, with
 * a listener on `cluster` that stays; so do the counts (a worker that is replaced finds them).
 */
export function hostClusterCounts(): void {
  if (!cluster.isPrimary) throw new Error("rate limits: role 'primary' hosts the workers' counts in the node:cluster primary; this process is a worker");
  new RateLimiterClusterMaster();
}
