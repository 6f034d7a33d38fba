// The reload's build, in a worker thread: reading, parsing, validating and compiling a large
// configuration (a thousand APIs: a few hundred milliseconds) never holds up the requests the
// main thread is serving. The worker keeps its caches between reloads: the last validated
// document and the parsed certificates, both by content hash, and the configurations it sent
// that the main thread may hold, so that it sends only what changed (see config/delta.ts).
import { parentPort } from 'node:worker_threads';
import { encodeDelta, shareUnchanged } from '../config/delta.js';
import { DocumentCache, loadConfig } from '../config/load.js';
import { prepareSchema } from '../config/schema.js';
import type { GatewayConfig } from '../config/types.js';
import type { LoadRequest, LoadResponse } from './config-loader.js';

const cache = new DocumentCache();
/** By token: the configuration each request names as the one served, and the last one sent. */
const sent = new Map<number, GatewayConfig>();
let lastToken = 0;
// The worker starts with the reloader: compiling the schema now keeps it out of the first reload.
prepareSchema();

function answer(request: LoadRequest, result: Awaited<ReturnType<typeof loadConfig>>): LoadResponse {
  if (!result.config) return { id: request.id, diagnostics: result.diagnostics };
  const base = request.base === undefined ? undefined : sent.get(request.base);
  const config = base ? shareUnchanged(result.config, base) : result.config;
  const token = ++lastToken;
  for (const key of sent.keys()) if (key !== request.base) sent.delete(key);
  sent.set(token, config);
  return { id: request.id, diagnostics: result.diagnostics, token, delta: encodeDelta(config, base), ...(base ? { base: request.base } : {}) };
}

parentPort!.on('message', (request: LoadRequest) => {
  if (request.adopt) {
    // The configuration the gateway started with (loaded on the main thread): the base of the first reload.
    sent.set(++lastToken, request.adopt);
    parentPort!.postMessage({ id: request.id, adopted: lastToken } satisfies LoadResponse);
    return;
  }
  loadConfig(request.configPath, { env: request.env, cache, freeze: false }).then(
    (result) => parentPort!.postMessage(answer(request, result)),
    (error: unknown) => parentPort!.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies LoadResponse),
  );
});
