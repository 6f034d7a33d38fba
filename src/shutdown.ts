// Stopping a gateway (SIGTERM, SIGINT, stop()): the same steps in the same order whether one
// process serves or a primary stops its workers. The reloads stop first, so that nothing swaps
// under the drain; then, with a delay (SIGTERM), listen.shutdownDelay of accepting while /readyz
// says 503; then no new connections and the requests in flight given listen.shutdownTimeout.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from './log.js';
import type { Reloader } from './reload/reloader.js';
import type { SnapshotHolder } from './snapshot/holder.js';

/** What serves requests: this process's listeners, or the workers' (workers/pool.ts). */
export interface Serving {
  /** Requests accepted whose response is not over yet. */
  readonly inFlight: number;
  /** From now on, responses close their connection; new connections are still accepted. */
  announceStop(): void;
  /** Stops accepting and waits at most `timeoutMs` for the requests in flight; false if some were cut. */
  drain(timeoutMs: number): Promise<boolean | void>;
}

export interface Stop {
  readonly serving: Serving;
  readonly holder: SnapshotHolder;
  readonly reloader: Reloader;
  readonly logger: Logger;
  /** Keep accepting for listen.shutdownDelay first (SIGTERM). */
  readonly delay: boolean;
  /** abort() was called: the rest is abort()'s to do. */
  readonly aborted: AbortSignal;
  /** The log line when the drain begins, and its fields besides inFlight and timeoutMs. */
  readonly draining: { readonly message: string; readonly fields?: Readonly<Record<string, unknown>> };
  /** After the drain: close the listeners and pools that are left, flush what is buffered. */
  readonly closeAll: () => Promise<void>;
}

export async function stopServing({ serving, holder, reloader, logger, delay, aborted, draining, closeAll }: Stop): Promise<void> {
  await reloader.close();
  const { shutdownDelayMs: delayMs, shutdownTimeoutMs: timeoutMs } = holder.current.config.listen;
  if (delay && delayMs > 0) {
    // Kubernetes sends SIGTERM while the pod is still in its Services' endpoints; they drop it
    // within a few seconds. Refusing connections at once would fail the requests sent meanwhile.
    serving.announceStop();
    logger.info({ delayMs, inFlight: serving.inFlight }, 'stopping: /readyz answers 503; still accepting for listen.shutdownDelay so that load balancers stop sending traffic here');
    logger.flush();
    await sleep(delayMs, undefined, { signal: aborted }).catch(() => undefined);
  }
  if (aborted.aborted) return;
  logger.info({ inFlight: serving.inFlight, timeoutMs, ...draining.fields }, draining.message);
  const finished = await serving.drain(timeoutMs);
  if (aborted.aborted) return;
  if (finished === false) logger.warn({ inFlight: serving.inFlight, timeoutMs }, 'shutdown timeout: closing the connections of requests still in flight');
  await closeAll();
  logger.info('stopped');
  logger.flush();
}
