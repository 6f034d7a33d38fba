// The admin address (docs/operations.md): GET /healthz, /readyz, /status, /metrics and POST /reload, on its
// own listener (loopback by default). With admin.token set, /status and /reload need
// `Authorization: Bearer <token>`; the comparison takes the same time whatever the guess.
// /healthz, /readyz and /metrics stay open for probes and Prometheus, as in Envoy and Traefik:
// they reveal no configuration.
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { errorsAndWarnings } from '../diagnostics.js';
import type { ReloadOutcome } from '../reload/reloader.js';
import type { SnapshotHolder } from '../snapshot/holder.js';
import { writeJsonInPieces } from './json-chunks.js';
import type { GatewayMetrics } from './metrics.js';
import { statusOf } from './status.js';
import type { ReloadHistory } from './status.js';

export interface AdminTarget {
  readonly holder: SnapshotHolder;
  /** False once the gateway is stopping: /readyz answers 503 so that load balancers move away. */
  readonly ready: () => boolean;
  readonly reloads: ReloadHistory & { reloadNow(reason: string): Promise<ReloadOutcome> };
  /** WebSocket tunnels open in this process (absent with workers: each worker has its own). */
  readonly tunnels?: () => number;
  /** With listen.workers above 1: each worker's pid, state, generation, requests in flight, restarts. */
  readonly workers?: () => Promise<readonly unknown[]>;
}

interface Route {
  readonly method: 'GET' | 'POST';
  readonly protected: boolean;
  handle(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
}

export function createAdminServer(target: AdminTarget, metrics: GatewayMetrics): http.Server {
  const routes: Record<string, Route> = {
    '/healthz': { method: 'GET', protected: false, handle: (_req, res) => sendText(res, 200, 'ok\n') },
    '/readyz': {
      method: 'GET',
      protected: false,
      handle: (_req, res) => (target.ready() ? sendText(res, 200, 'ready\n') : sendText(res, 503, 'stopping\n')),
    },
    '/status': {
      method: 'GET',
      protected: true,
      handle: async (_req, res) => {
        const status = await statusOf(target.holder.current, target.reloads, Date.now(), target.workers === undefined);
        // Megabytes at thousands of APIs: written a slice of APIs at a time (json-chunks.ts).
        const tunnels = target.tunnels ? { websocketTunnels: target.tunnels() } : {};
        await writeJsonInPieces(res, 200, target.workers ? { ...status, ...tunnels, workers: await target.workers() } : { ...status, ...tunnels });
      },
    },
    '/metrics': {
      method: 'GET',
      protected: false,
      handle: async (_req, res) => {
        const text = await metrics.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
        res.end(text);
      },
    },
    '/reload': {
      method: 'POST',
      protected: true,
      handle: async (_req, res) => {
        const outcome = await target.reloads.reloadNow('POST /reload');
        const { current } = target.holder;
        const folder = path.dirname(current.config.file);
        const body: Record<string, unknown> = { result: outcome.kind, durationMs: outcome.durationMs, generation: current.generation };
        if (outcome.kind !== 'unchanged') Object.assign(body, errorsAndWarnings(outcome.diagnostics, folder));
        if (outcome.kind === 'applied') body.revision = outcome.revision;
        // 200 when the files now serve (applied or already served); 422 when they were refused.
        sendJson(res, outcome.kind === 'rejected' ? 422 : 200, body);
      },
    },
  };

  const server = http.createServer({ headersTimeout: 10_000, requestTimeout: 30_000, maxHeaderSize: 8192 }, (req, res) => {
    const pathname = (req.url ?? '/').split('?', 1)[0]!;
    const route = Object.hasOwn(routes, pathname) ? routes[pathname]! : undefined;
    // Admin requests carry no body worth reading; drain whatever comes so the socket stays usable.
    req.resume();
    if (!route) return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no admin route ${pathname}; routes: ${Object.keys(routes).join(', ')}` } });
    if (req.method !== route.method && !(route.method === 'GET' && req.method === 'HEAD')) {
      res.setHeader('allow', route.method === 'GET' ? 'GET, HEAD' : route.method);
      return sendJson(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: `${pathname} accepts ${route.method}` } });
    }
    const token = target.holder.current.config.admin.token;
    if (route.protected && token && !bearerMatches(req.headers.authorization, token)) {
      res.setHeader('www-authenticate', 'Bearer realm="gatehouse admin"');
      return sendJson(res, 401, { error: { code: 'UNAUTHORIZED', message: `${pathname} needs "Authorization: Bearer <admin.token>"` } });
    }
    Promise.resolve(route.handle(req, res)).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'INTERNAL', message: (error as Error).message } });
      else res.destroy();
    });
  });
  return server;
}

/** Constant-time: both sides are hashed to 32 bytes first, so neither the length nor the content leaks through timing. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const presented = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '';
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(presented), digest(token)) && presented.length > 0;
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body, null, 2) + '\n');
}
