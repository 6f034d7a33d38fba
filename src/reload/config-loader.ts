// loadConfig in a worker thread (see load-worker.ts), for reloads. The result crosses the
// thread boundary by structured clone: plain data, with the byte buffers of the HTTPS
// listener's credentials turned back into Buffers, then deep-frozen here.
import { Worker } from 'node:worker_threads';
import type { Environment } from '../config/interpolate.js';
import type { LoadResult } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import type { ListenerCredentials } from '../certs/types.js';
import { deepFreeze } from '../freeze.js';

export interface LoadRequest {
  readonly id: number;
  readonly configPath: string;
  readonly env: Environment;
}

export type LoadResponse = { readonly id: number; readonly result: LoadResult } | { readonly id: number; readonly error: string };

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
  readonly #pending = new Map<number, { resolve: (result: LoadResult) => void; reject: (error: Error) => void }>();

  /** Starts the worker ahead of the first load (its modules and the schema take a second to get ready). */
  prepare(): void {
    this.#worker ??= this.#start();
  }

  load(configPath: string, env: Environment): Promise<LoadResult> {
    const worker = this.#worker ?? this.#start();
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // process.env is not cloneable as such: send its entries.
      worker.postMessage({ id, configPath, env: { ...env } } satisfies LoadRequest);
    });
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }

  #start(): Worker {
    const worker = startWorker();
    worker.unref();
    worker.on('message', (response: LoadResponse) => {
      const pending = this.#pending.get(response.id);
      this.#pending.delete(response.id);
      if (!pending) return;
      if ('error' in response) pending.reject(new Error(response.error));
      else pending.resolve(reviveResult(response.result));
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

const toBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function reviveResult(result: LoadResult): LoadResult {
  return result.config ? { config: reviveConfig(result.config), diagnostics: result.diagnostics } : result;
}

/**
 * A compiled configuration that crossed a thread or process boundary (structured clone, or the
 * workers' IPC): its byte buffers Buffers again, and deep-frozen as compile leaves it.
 */
export function reviveConfig(config: GatewayConfig): GatewayConfig {
  const credentials = config.listen.https?.credentials;
  if (credentials) {
    const writable = credentials as { -readonly [K in keyof ListenerCredentials]: unknown } & Record<string, unknown>;
    for (const key of ['cert', 'key', 'pfx'] as const) {
      if (writable[key] instanceof Uint8Array && !Buffer.isBuffer(writable[key])) writable[key] = toBuffer(writable[key]);
    }
  }
  return deepFreeze(config);
}
