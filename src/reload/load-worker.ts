// The reload's worker thread (the main thread's side is config-loader.ts): it loads the files
// (read, parse, validate, compile) and watches them, so that neither holds up the requests the
// main thread is serving. It keeps its caches between reloads: the last validated document, the
// pieces of YAML and the parsed certificates, all by content; and the configurations it sent that
// the main thread may hold, so that it sends only what changed (see config/delta.ts).
import { parentPort } from 'node:worker_threads';
import { encodeDelta, shareUnchanged } from '../config/delta.js';
import { DocumentCache, loadConfig } from '../config/load.js';
import type { LoadResult } from '../config/load.js';
import { prepareSchema } from '../config/schema.js';
import type { GatewayConfig } from '../config/types.js';
import type { FromLoadWorker, ToLoadWorker } from './config-loader.js';
import { ConfigWatcher } from './watch.js';

const port = parentPort!;
const send = (message: FromLoadWorker): void => port.postMessage(message);

const cache = new DocumentCache();
/** By token: the configuration each request names as the one served, and the last one sent. */
const sent = new Map<number, GatewayConfig>();
let lastToken = 0;
// The worker starts with the reloader: compiling the schema now keeps it out of the first reload.
prepareSchema();

const watcher = new ConfigWatcher({
  onChange: (file) => send({ type: 'change', file }),
  onError: (error) => send({ type: 'watch-error', message: error.message }),
  onLost: (message, details) => send({ type: 'lost', message, details }),
  onBack: (message, details) => send({ type: 'back', message, details }),
});

function loaded(request: ToLoadWorker & { type: 'load' }, result: LoadResult): FromLoadWorker {
  if (!result.config) return { type: 'loaded', id: request.id, diagnostics: result.diagnostics };
  const base = request.base === undefined ? undefined : sent.get(request.base);
  const config = base ? shareUnchanged(result.config, base) : result.config;
  const token = ++lastToken;
  for (const key of sent.keys()) if (key !== request.base) sent.delete(key);
  sent.set(token, config);
  return { type: 'loaded', id: request.id, diagnostics: result.diagnostics, result: { delta: encodeDelta(config, base), token, ...(base ? { base: request.base } : {}) } };
}

const failed = (id: number) => (error: unknown) => send({ type: 'failed', id, error: error instanceof Error ? error.message : String(error) });

port.on('message', (request: ToLoadWorker) => {
  switch (request.type) {
    case 'adopt':
      // The configuration the gateway started with (loaded on the main thread): the base of the first reload.
      sent.set(++lastToken, request.config);
      return send({ type: 'adopted', id: request.id, token: lastToken });
    case 'watch':
      return void watcher.watch(request.targets).then(() => send({ type: 'watching', id: request.id }), failed(request.id));
    case 'load':
      return void loadConfig(request.configPath, { env: request.env, cache, freeze: false }).then((result) => send(loaded(request, result)), failed(request.id));
  }
});
