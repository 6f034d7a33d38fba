// Active health checks of endpoint groups (SPEC §8, healthCheck): every interval, a GET of the
// check's path on each target's origin, through the target's own pool (so with its trust,
// verifier, protocols and client certificate). A 2xx or 3xx answer within the timeout makes the
// target available at once; anything else suspends it as a failed request would.
//
// Checks run in the processes that serve requests (each worker checks for itself: suspension is
// per process, as in WSO2 where each gateway node keeps its own endpoint states), and only for
// the snapshot being served: a reload starts the checks of new groups and stops those of groups
// no longer served, while a group the reload kept goes on with its timers.
import type { Logger } from 'pino';
import type { SnapshotHolder } from './holder.js';
import type { EndpointRuntime, Snapshot, TargetRuntime } from './snapshot.js';

interface Running {
  readonly timers: NodeJS.Timeout[];
}

export class HealthChecks {
  readonly #running = new Map<EndpointRuntime, Running>();
  readonly #logger: Logger | undefined;
  #stopped = false;

  constructor(holder: SnapshotHolder, logger?: Logger) {
    this.#logger = logger;
    this.#follow(holder.current);
    holder.on('swapped', (next) => this.#follow(next));
  }

  stop(): void {
    this.#stopped = true;
    for (const running of this.#running.values()) for (const timer of running.timers) clearInterval(timer);
    this.#running.clear();
  }

  #follow(snapshot: Snapshot): void {
    if (this.#stopped) return;
    const wanted = new Set([...snapshot.endpoints.values()].filter((e) => e.config.healthCheck && e.group));
    for (const [endpoint, running] of this.#running) {
      if (wanted.has(endpoint)) continue;
      for (const timer of running.timers) clearInterval(timer);
      this.#running.delete(endpoint);
    }
    for (const endpoint of wanted) if (!this.#running.has(endpoint)) this.#running.set(endpoint, this.#start(endpoint));
  }

  #start(endpoint: EndpointRuntime): Running {
    const check = endpoint.config.healthCheck!;
    const timers = endpoint.targets
      .filter((target) => target.pool)
      .map((target) => {
        let busy = false;
        const run = () => {
          if (busy) return;
          busy = true;
          const wasAvailable = endpoint.group!.isAvailable(target, Date.now());
          void checkTarget(endpoint, target)
            .then((outcome) => {
              const available = endpoint.group!.isAvailable(target, Date.now());
              if (outcome === 'retired' || available === wasAvailable) return;
              const fields = { api: endpoint.apiConfig.name, version: endpoint.apiConfig.version, endpoint: endpoint.config.role, target: target.config.name, url: target.config.url };
              if (available) this.#logger?.info(fields, 'health check passed: the target is available again');
              else this.#logger?.warn({ ...fields, reason: outcome }, 'health check failed: the target is suspended');
            })
            .finally(() => (busy = false));
        };
        // The first check at once: a group starting with a dead target should not wait an interval to know it.
        setImmediate(run);
        return setInterval(run, check.intervalMs).unref();
      });
    return { timers };
  }
}

/** One check of one target: the group learns the outcome. */
async function checkTarget(endpoint: EndpointRuntime, target: TargetRuntime): Promise<string> {
  const check = endpoint.config.healthCheck!;
  const group = endpoint.group!;
  const pool = target.pool!;
  if (pool.closed || pool.destroyed) return 'retired';
  /** 'passed', 'retired' (the pool was closed by a reload), or why the check failed. */
  let outcome: string;
  try {
    const response = await pool.request({
      origin: target.config.origin,
      path: check.path,
      method: 'GET',
      headers: { host: target.hostHeader, 'user-agent': 'gatehouse-health-check' },
      headersTimeout: check.timeoutMs,
      bodyTimeout: check.timeoutMs,
      signal: AbortSignal.timeout(check.timeoutMs),
    });
    await response.body.dump();
    outcome = response.statusCode >= 200 && response.statusCode < 400 ? 'passed' : `health check: GET ${check.path} answered ${response.statusCode}`;
  } catch (error) {
    if (pool.closed || pool.destroyed) return 'retired';
    outcome = `health check: GET ${check.path} failed: ${(error as Error).message}`;
  }
  if (outcome === 'passed') group.healthy(target);
  else group.failed(target, Date.now(), outcome);
  return outcome;
}
