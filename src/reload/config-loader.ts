// loadConfig in a worker thread (see load-worker.ts), for reloads. The result crosses the
// thread boundary by structured clone, as changes to the configuration served (config/delta.ts):
// the APIs and certificate files that did not change are the served configuration's own objects.
import { Worker } from 'node:worker_threads';
import type { Environment } from '../config/interpolate.js';
import { applyDelta } from '../config/delta.js';
import type { ConfigDelta } from '../config/delta.js';
import type { Diagnostic } from '../diagnostics.js';
import type { LoadResult } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';

export interface LoadRequest {
  readonly id: number;
  readonly configPath: string;
  readonly env: Environment;
  /** The token of the configuration served, when it came from this worker: the delta's base. */
  readonly base?: number;
  /** Not a reload: the configuration served, to keep as the base of the next. */
  readonly adopt?: GatewayConfig;
}

export type LoadResponse =
  | { readonly id: number; readonly adopted: number }
  | { readonly id: number; readonly diagnostics: readonly Diagnostic[]; readonly delta?: undefined }
  /** `base`: the request's base, when the worker still had it and the delta is relative to it. */
  | { readonly id: number; readonly diagnostics: readonly Diagnostic[]; readonly delta: ConfigDelta; readonly token: number; readonly base?: number }
  | { readonly id: number; readonly error: string };

// Compiled: dist/reload/load-worker.js beside this file. From the TypeScript sources (tests and
// benchmarks run through tsx), a worker does not inherit tsx's loader, so it registers it first.
const FROM_SOURCES = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCES ? './load-worker.ts' : './load-worker.js', import.meta.url);

function startWorker(): Worker {
  if (!FROM_SOURCES) return new Worker(WORKER_URL);
  const script = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(script, { eval: true });
}

export class WorkerConfigLoader {
  #worker: Worker | undefined;
  #next = 1;
  readonly #pending = new Map<number, { base: GatewayConfig | undefined; resolve: (result: LoadResult) => void; reject: (error: Error) => void }>();
  /** The worker's token for each configuration it built that may still be served. */
  #tokens = new WeakMap<GatewayConfig, number>();
  #adopting: Promise<void> | undefined;

  /**
   * Starts the worker ahead of the first load (its modules and the schema take a second to get
   * ready), and sends it `served`, the configuration the gateway starts with (loaded on the main
   * thread, before any listener opens), so that the first reload too sends only what changed.
   */
  prepare(served: GatewayConfig): void {
    const worker = this.#worker ?? this.#start();
    const id = this.#next++;
    this.#adopting = new Promise<void>((settled) => {
      this.#pending.set(id, { base: served, resolve: () => settled(), reject: () => settled() });
      worker.postMessage({ id, configPath: served.file, env: {}, adopt: served } satisfies LoadRequest);
    });
  }

  /** `served`: the configuration served now; what did not change since is returned as its own objects. */
  async load(configPath: string, env: Environment, served?: GatewayConfig): Promise<LoadResult> {
    // A first reload waits for the adoption (see prepare), which it would otherwise run beside.
    await this.#adopting;
    const worker = this.#worker ?? this.#start();
    const id = this.#next++;
    const base = served && this.#tokens.get(served);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { base: base === undefined ? undefined : served, resolve, reject });
      // process.env is not cloneable as such: send its entries.
      worker.postMessage({ id, configPath, env: { ...env }, ...(base === undefined ? {} : { base }) } satisfies LoadRequest);
    });
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }

  #start(): Worker {
    const worker = startWorker();
    // A new worker holds none of the configurations the last one sent (and counts tokens from 1).
    this.#tokens = new WeakMap();
    worker.unref();
    worker.on('message', (response: LoadResponse) => {
      const pending = this.#pending.get(response.id);
      this.#pending.delete(response.id);
      if (!pending) return;
      if ('adopted' in response) {
        if (pending.base) this.#tokens.set(pending.base, response.adopted);
        return pending.resolve({ diagnostics: [] });
      }
      if ('error' in response) return pending.reject(new Error(response.error));
      if (!response.delta) return pending.resolve({ diagnostics: response.diagnostics });
      try {
        const config = applyDelta(response.delta, response.base === undefined ? undefined : pending.base);
        this.#tokens.set(config, response.token);
        pending.resolve({ config, diagnostics: response.diagnostics });
      } catch (error) {
        pending.reject(error as Error);
      }
    });
    const fail = (error: Error) => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the configuration worker exited (${code})`)));
    this.#worker = worker;
    return worker;
  }
}
