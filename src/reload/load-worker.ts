// The reload's build, in a worker thread: reading, parsing, validating and compiling a large
// configuration (a thousand APIs: a few hundred milliseconds) never holds up the requests the
// main thread is serving. The worker keeps its caches between reloads: the last validated
// document and the parsed certificates, both by content hash.
import { parentPort } from 'node:worker_threads';
import { DocumentCache, loadConfig } from '../config/load.js';
import { prepareSchema } from '../config/schema.js';
import type { LoadRequest, LoadResponse } from './config-loader.js';

const cache = new DocumentCache();
// The worker starts with the reloader: compiling the schema now keeps it out of the first reload.
prepareSchema();

parentPort!.on('message', (request: LoadRequest) => {
  loadConfig(request.configPath, { env: request.env, cache }).then(
    (result) => parentPort!.postMessage({ id: request.id, result } satisfies LoadResponse),
    (error: unknown) => parentPort!.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies LoadResponse),
  );
});
