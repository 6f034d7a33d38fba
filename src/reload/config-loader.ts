// The reload's worker thread, seen from the main thread (the thread's side is load-worker.ts).
// Everything a reload does that grows with the configuration runs there, off the thread that
// serves requests: reading, parsing, validating and compiling the files, and watching them
// (chokidar reads a watched folder again on every event in it: at 5,000 certificate files, tens of
// milliseconds of work at a time). The result crosses the thread boundary by structured clone, as
// changes to the configuration served (config/delta.ts): the APIs and certificate files that did
// not change are the served configuration's own objects.
import { Worker } from 'node:worker_threads';
import type { Environment } from '../config/interpolate.js';
import { applyDelta } from '../config/delta.js';
import type { ConfigDelta } from '../config/delta.js';
import type { Diagnostic } from '../diagnostics.js';
import type { LoadResult } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import type { WatchCallbacks, WatchTargets } from './watch.js';

export type ToLoadWorker =
  /**
   * Load the files. `base`: the token of the configuration served, when it came from this
   * worker: the delta's base.
   */
  | { readonly type: 'load'; readonly id: number; readonly configPath: string; readonly env: Environment; readonly base?: number }
  /** Not a reload: the configuration served, to keep as the base of the next. */
  | { readonly type: 'adopt'; readonly id: number; readonly config: GatewayConfig }
  /** Watch these files (instead of any watched before); answered once watching. */
  | { readonly type: 'watch'; readonly id: number; readonly targets: WatchTargets };

export type FromLoadWorker =
  | { readonly type: 'adopted'; readonly id: number; readonly token: number }
  | { readonly type: 'watching'; readonly id: number }
  | { readonly type: 'loaded'; readonly id: number; readonly diagnostics: readonly Diagnostic[]; readonly result?: undefined }
  /** `base`: the request's base, when the worker still had it and the delta is relative to it. */
  | { readonly type: 'loaded'; readonly id: number; readonly diagnostics: readonly Diagnostic[]; readonly result: { readonly delta: ConfigDelta; readonly token: number; readonly base?: number } }
  | { readonly type: 'failed'; readonly id: number; readonly error: string }
  /** What the watcher said (WatchCallbacks), as it happened. */
  | { readonly type: 'change'; readonly file: string }
  | { readonly type: 'watch-error'; readonly message: string }
  | { readonly type: 'lost' | 'back'; readonly message: string; readonly details: { readonly path: string } };

// Compiled: dist/reload/load-worker.js beside this file. From the TypeScript sources (tests and
// benchmarks run through tsx), a worker does not inherit tsx's loader, so it registers it first.
const FROM_SOURCES = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCES ? './load-worker.ts' : './load-worker.js', import.meta.url);

function startWorker(): Worker {
  if (!FROM_SOURCES) return new Worker(WORKER_URL);
  const script = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(script, { eval: true });
}

type Answer = FromLoadWorker & { readonly id: number };
type Request = ToLoadWorker extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export class WorkerConfigLoader {
  readonly #watchCallbacks: WatchCallbacks;
  #worker: Worker | undefined;
  #next = 1;
  readonly #pending = new Map<number, { resolve: (answer: Answer) => void; reject: (error: Error) => void }>();
  /** The worker's token for each configuration it built that may still be served. */
  #tokens = new WeakMap<GatewayConfig, number>();
  #adopting: Promise<void> | undefined;
  /** What is watched: watched again by a worker that replaces one that died. */
  #targets: WatchTargets | undefined;

  constructor(watchCallbacks: WatchCallbacks) {
    this.#watchCallbacks = watchCallbacks;
  }

  /**
   * Starts the worker ahead of the first load (its modules and the schema take a second to get
   * ready), and sends it `served`, the configuration the gateway starts with (loaded on the main
   * thread, before any listener opens), so that the first reload too sends only what changed.
   */
  prepare(served: GatewayConfig): void {
    this.#adopting = this.#ask({ type: 'adopt', config: served }).then(
      (answer) => void (answer.type === 'adopted' && this.#tokens.set(served, answer.token)),
      () => undefined,
    );
  }

  /** `served`: the configuration served now; what did not change since is returned as its own objects. */
  async load(configPath: string, env: Environment, served?: GatewayConfig): Promise<LoadResult> {
    // A first reload waits for the adoption (see prepare), which it would otherwise run beside.
    await this.#adopting;
    const base = served && this.#tokens.get(served);
    // process.env is not cloneable as such: send its entries.
    const answer = await this.#ask({ type: 'load', configPath, env: { ...env }, ...(base === undefined ? {} : { base }) });
    if (answer.type === 'failed') throw new Error(answer.error);
    if (answer.type !== 'loaded') throw new Error(`the configuration worker answered ${answer.type} to a load`);
    if (!answer.result) return { diagnostics: answer.diagnostics };
    const { delta, token } = answer.result;
    const config = applyDelta(delta, answer.result.base === undefined ? undefined : served);
    this.#tokens.set(config, token);
    return { config, diagnostics: answer.diagnostics };
  }

  /** Watches `targets` (see watch.ts), in the worker; resolves once watching. */
  async watch(targets: WatchTargets): Promise<void> {
    this.#targets = targets;
    const answer = await this.#ask({ type: 'watch', targets });
    // Said, not thrown: the files are looked at again once a second (watch.ts) and a reload follows.
    if (answer.type === 'failed') this.#watchCallbacks.onError(new Error(answer.error));
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    this.#targets = undefined;
    await worker?.terminate();
  }

  #ask(request: Request): Promise<Answer> {
    const worker = this.#worker ?? this.#start();
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ ...request, id });
    });
  }

  #received(message: FromLoadWorker): void {
    const callbacks = this.#watchCallbacks;
    switch (message.type) {
      case 'change':
        return callbacks.onChange(message.file);
      case 'watch-error':
        return callbacks.onError(new Error(message.message));
      case 'lost':
        return callbacks.onLost(message.message, message.details);
      case 'back':
        return callbacks.onBack(message.message, message.details);
      default: {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        pending?.resolve(message);
      }
    }
  }

  #start(): Worker {
    const worker = startWorker();
    // A new worker holds none of the configurations the last one sent (and counts tokens from 1).
    this.#tokens = new WeakMap();
    worker.unref();
    worker.on('message', (message: FromLoadWorker) => this.#received(message));
    const fail = (error: Error) => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
      // Watching stops with the worker: a new worker watches the same files again, a second
      // later (not in a loop, should a worker fail as it starts).
      if (this.#targets) {
        this.#watchCallbacks.onError(new Error(`${error.message}; the files are watched again in a second`));
        setTimeout(() => {
          if (this.#targets && !this.#worker) void this.watch(this.#targets).catch(() => undefined);
        }, 1_000).unref();
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the configuration worker exited (${code})`)));
    this.#worker = worker;
    return worker;
  }
}
