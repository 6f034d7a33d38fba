// listen.workers above 1, as a user runs it: `gatehouse run` in a child process whose workers are
// real processes (node:cluster), real signals to the primary, to a worker and to the process
// group, real sockets and files.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import WebSocket, { WebSocketServer } from 'ws';
import { startBackend } from '../helpers/backend.js';
import type { Backend } from '../helpers/backend.js';
import { BIN, runCli } from '../helpers/cli.js';
import { json, request } from '../helpers/client.js';
import type { LogLine } from '../helpers/gateway.js';
import { LogCapture } from '../helpers/gateway.js';
import { spawnGateway } from '../helpers/process.js';
import type { GatewayProcess } from '../helpers/process.js';
import { parsePrometheus, select } from '../helpers/prometheus.js';
import { until, untilAsync } from '../helpers/wait.js';
import { reusePortAvailable } from '../../src/workers/balance.js';

const config = (url: string, listen = '') => `version: 1
listen: { http: "127.0.0.1:0", shutdownDelay: 0, shutdownTimeout: 10s${listen} }
admin: { address: "127.0.0.1:0" }
apis:
  - { name: Test, context: /api, version: v1, endpoints: { production: { url: "${url}" } } }
`;

interface WorkerStatus {
  worker: number;
  pid: number;
  state: string;
  generation: number;
  inFlight: number;
  restarts: number;
}

interface Status {
  generation: number;
  gateway: { pid: number };
  workers: WorkerStatus[];
}

const status = async (gw: GatewayProcess): Promise<Status> => json<Status>(await request(`${gw.adminUrl}/status`));
const metrics = async (gw: GatewayProcess) => parsePrometheus((await request(`${gw.adminUrl}/metrics`)).text);
const sum = (samples: readonly { value: number }[]) => samples.reduce((s, x) => s + x.value, 0);
const accessLines = (gw: GatewayProcess): LogLine[] => gw.logs.lines.filter((l) => l.msg === 'request');

/** A backend that tags its answers, so that a test sees which configuration served a request. */
async function taggedBackend(t: Test, tag: string): Promise<Backend> {
  return startBackend(t, { handler: (_req, res) => res.end(tag) });
}

/** A backend that holds each request to a /slow path until release(); `held` counts those it holds. */
async function holdingBackend(t: Test) {
  const waiting: (() => void)[] = [];
  const backend = await startBackend(t, {
    handler: (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      if (!req.url?.includes('slow')) return res.end('quick');
      res.write('started ');
      waiting.push(() => res.end('and finished'));
    },
  });
  return { backend, held: () => waiting.length, release: () => waiting.splice(0).forEach((end) => end()) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test('two workers: both serve, the access lines name them, /status lists each, /metrics sums them', async (t) => {
  const backend = await taggedBackend(t, 'A');
  const dir = t.testdir({ 'gateway.yaml': config(backend.url) });
  const gw = await spawnGateway(t, dir, ['--workers', '2']);
  const listening = gw.logs.find((l) => l.msg === 'gateway listening')!;
  t.equal(listening.workers, 2);
  t.equal((await request(`${gw.adminUrl}/readyz`)).status, 200, 'ready once both workers listen');

  for (let i = 0; i < 20; i++) t.equal((await request(`${gw.url}/api/v1/`)).text, 'A');
  await until(() => accessLines(gw).length === 20, 'the 20 access lines');
  const served = new Set(accessLines(gw).map((l) => l.worker));
  t.same([...served].sort(), [1, 2], 'connections are spread over both workers');
  const pids = new Set(accessLines(gw).map((l) => l.pid));
  t.equal(pids.size, 2, 'by two processes');
  t.notOk(pids.has(gw.child.pid), 'neither is the primary');

  const doc = await status(gw);
  t.equal(doc.gateway.pid, gw.child.pid, '/status names the primary');
  t.same(
    doc.workers.map((w) => [w.worker, w.state, w.generation, w.inFlight, w.restarts]),
    [
      [1, 'serving', 1, 0, 0],
      [2, 'serving', 1, 0, 0],
    ],
  );
  t.same(new Set(doc.workers.map((w) => w.pid)), pids, 'with the pids that served');

  const samples = await metrics(gw);
  t.equal(sum(select(samples, 'gatehouse_requests_total', { api: 'Test', status_class: '2xx' })), 20, 'one scrape: the requests of both workers, summed');
  t.equal(select(samples, 'gatehouse_requests_total', { api: 'Test' }).length, 1, 'one series, not one per worker');
  t.equal(select(samples, 'gatehouse_request_duration_seconds_count', { api: 'Test' })[0]?.value, 20, 'histograms summed too');
  t.equal(select(samples, 'gatehouse_config_generation')[0]?.value, 1, 'the generation is the primary’s, not a sum');
  t.equal(select(samples, 'gatehouse_build_info').length, 1);
  t.equal(select(samples, 'gatehouse_build_info')[0]?.value, 1);
  t.equal(select(samples, 'gatehouse_worker_restarts_total')[0]?.value, 0);
  t.equal(select(samples, 'gatehouse_requests_in_flight')[0]?.value, 0);
  t.ok(select(samples, 'process_resident_memory_bytes')[0]!.value > 3 * 30 * 1024 * 1024, 'process metrics add up the three processes');

  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0);
});

t.test('a reload is seen by both workers; one that a worker cannot prepare is refused by all', async (t) => {
  const a = await taggedBackend(t, 'A');
  const b = await taggedBackend(t, 'B');
  const c = await taggedBackend(t, 'C');
  const dir = t.testdir({ 'gateway.yaml': config(a.url) });
  const gw = await spawnGateway(t, dir, ['--workers', '2']);
  const file = path.join(dir, 'gateway.yaml');

  writeFileSync(file, config(b.url));
  const applied = await request(`${gw.adminUrl}/reload`, { method: 'POST' });
  t.equal(applied.status, 200);
  t.equal(json<{ result: string; generation: number }>(applied).generation, 2);
  const tags = await Promise.all(Array.from({ length: 20 }, () => request(`${gw.url}/api/v1/`).then((r) => r.text)));
  t.same(new Set(tags), new Set(['B']), 'every request on either worker is served by the new configuration');
  await until(() => accessLines(gw).length === 20, 'the access lines');
  t.same(new Set(accessLines(gw).map((l) => l.worker)), new Set([1, 2]), 'and both workers served');
  t.same(
    (await status(gw)).workers.map((w) => w.generation),
    [2, 2],
  );

  // Worker 1 stops answering (SIGSTOP): it cannot prepare the next configuration.
  const stuck = (await status(gw)).workers[0]!.pid;
  process.kill(stuck, 'SIGSTOP');
  t.teardown(() => alive(stuck) && process.kill(stuck, 'SIGCONT'));
  writeFileSync(file, config(c.url));
  const refused = await request(`${gw.adminUrl}/reload`, { method: 'POST' });
  t.equal(refused.status, 422, 'refused');
  const body = json<{ result: string; errors: { code: string; message: string }[] }>(refused);
  t.equal(body.result, 'rejected');
  t.same(
    body.errors.map((e) => [e.code, e.message]),
    [['RELOAD_WORKER', `worker 1 (pid ${stuck}) did not answer within 5 s; no worker serves it, generation 2 keeps serving everywhere`]],
  );
  const rejected = await gw.logs.waitFor((l) => l.msg.startsWith('configuration rejected'));
  t.equal(rejected.generation, 2);
  process.kill(stuck, 'SIGCONT');
  const after = await Promise.all(Array.from({ length: 20 }, () => request(`${gw.url}/api/v1/`).then((r) => r.text)));
  t.same(new Set(after), new Set(['B']), 'neither worker serves the refused configuration: not the one that prepared it either');
  await untilAsync(async () => (await status(gw)).workers.every((w) => w.state === 'serving'), 'worker 1 to answer again');
  t.same(
    (await status(gw)).workers.map((w) => w.generation),
    [2, 2],
  );
  t.equal(select(await metrics(gw), 'gatehouse_config_reloads_total', { result: 'rejected' })[0]?.value, 1);

  const again = await request(`${gw.adminUrl}/reload`, { method: 'POST' });
  t.equal(again.status, 200, 'once the worker answers, the same files reload');
  const last = await Promise.all(Array.from({ length: 10 }, () => request(`${gw.url}/api/v1/`).then((r) => r.text)));
  t.same(new Set(last), new Set(['C']));

  // listen.workers itself is not reloaded.
  writeFileSync(file, config(c.url, ', workers: 3'));
  const moved = await request(`${gw.adminUrl}/reload`, { method: 'POST' });
  t.equal(moved.status, 200, 'with --workers, the file’s listen.workers is not what runs: nothing to refuse');
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0);
});

t.test('listen.workers in the file: auto is one per CPU; changing it takes a restart', async (t) => {
  const backend = await taggedBackend(t, 'A');
  const dir = t.testdir({ 'gateway.yaml': config(backend.url, ', workers: auto') });
  const gw = await spawnGateway(t, dir);
  const cpus = Math.min(os.availableParallelism(), 1024);
  t.equal((await status(gw)).workers.length, cpus, `auto: ${cpus} on this machine`);
  writeFileSync(path.join(dir, 'gateway.yaml'), config(backend.url, ', workers: 3'));
  const refused = await request(`${gw.adminUrl}/reload`, { method: 'POST' });
  t.equal(refused.status, 422);
  const [error] = json<{ errors: { code: string; path: string; message: string }[] }>(refused).errors;
  t.equal(error?.code, 'CONFIG_RESTART_REQUIRED');
  t.equal(error?.path, 'listen.workers');
  t.match(error?.message, /^is 3 but was auto when the gateway started; the number of workers changes only with a restart/);
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0);
});

t.test('--workers 1 wins over the file: one process serves, and editing listen.workers is not refused', async (t) => {
  const backend = await taggedBackend(t, 'A');
  const dir = t.testdir({ 'gateway.yaml': config(backend.url, ', workers: 2') });
  const gw = await spawnGateway(t, dir, ['--workers', '1']);
  t.equal((await status(gw)).workers, undefined, 'no workers: this process serves');
  await request(`${gw.url}/api/v1/`);
  await until(() => accessLines(gw).length === 1, 'the access line');
  t.equal(accessLines(gw)[0]!.pid, gw.child.pid);
  writeFileSync(path.join(dir, 'gateway.yaml'), config(backend.url, ', workers: 3'));
  t.equal((await request(`${gw.adminUrl}/reload`, { method: 'POST' })).status, 200);
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0);
});

t.test('a worker that dies is replaced with the current configuration; its requests in flight are counted as lost', async (t) => {
  const held = await holdingBackend(t);
  const dir = t.testdir({ 'gateway.yaml': config(held.backend.url) });
  const gw = await spawnGateway(t, dir, ['--workers', '2']);
  writeFileSync(path.join(dir, 'gateway.yaml'), config(held.backend.url).replace('shutdownTimeout: 10s', 'shutdownTimeout: 9s'));
  t.equal((await request(`${gw.adminUrl}/reload`, { method: 'POST' })).status, 200);

  // Requests both workers count, seen by a scrape.
  for (let i = 0; i < 6; i++) t.equal((await request(`${gw.url}/api/v1/`)).text, 'quick');
  const counted = sum(select(await metrics(gw), 'gatehouse_requests_total', { api: 'Test' }));
  t.equal(counted, 6);

  // One request on each worker (round robin), held by the backend.
  const first = request(`${gw.url}/api/v1/slow`).then((r) => r.text, (e: NodeJS.ErrnoException) => e.code ?? e.message);
  const second = request(`${gw.url}/api/v1/slow`).then((r) => r.text, (e: NodeJS.ErrnoException) => e.code ?? e.message);
  await until(() => held.held() === 2, 'both requests at the backend');
  await untilAsync(async () => (await status(gw)).workers.every((w) => w.inFlight === 1), 'each worker to hold one');
  await new Promise((resolve) => setTimeout(resolve, 700)); // the primary hears of in-flight requests every 500 ms
  const [victim, survivor] = (await status(gw)).workers;
  process.kill(victim!.pid, 'SIGKILL');
  const replacing = await gw.logs.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith(`worker 1 (pid ${victim!.pid}) was killed by SIGKILL`));
  t.equal(replacing.lostRequests, 1);
  t.match(replacing.msg, /1 request\(s\) it had in flight are lost; replacing it now; the other workers keep serving/);

  // Meanwhile the other worker serves new connections.
  const during = await Promise.all(Array.from({ length: 4 }, () => request(`${gw.url}/api/v1/`).then((r) => r.text)));
  t.same(during, ['quick', 'quick', 'quick', 'quick'], 'the other worker serves meanwhile');
  const replaced = await gw.logs.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('worker 1 replaced'), 10_000);
  t.equal(replaced.generation, 2, 'the replacement serves the configuration served now, not the one of the start');
  t.ok((replaced.time as number) - (replacing.time as number) < 5_000, `replaced within ${(replaced.time as number) - (replacing.time as number)} ms`);
  held.release();
  const results = [await first, await second];
  t.equal(results.filter((r) => r === 'started and finished').length, 1, 'one finished');
  t.equal(results.filter((r) => r !== 'started and finished').length, 1, `one was cut with its worker (${results.join(', ')})`);

  const doc = await status(gw);
  t.equal(doc.workers[0]!.restarts, 1);
  t.not(doc.workers[0]!.pid, victim!.pid);
  t.equal(doc.workers[0]!.state, 'serving');
  t.equal(doc.workers[0]!.generation, 2);
  t.equal(doc.workers[1]!.pid, survivor!.pid, 'the other worker is the same process');
  const samples = await metrics(gw);
  t.equal(select(samples, 'gatehouse_worker_restarts_total')[0]?.value, 1);
  t.equal(select(samples, 'gatehouse_worker_lost_requests_total')[0]?.value, 1);
  const after = select(samples, 'gatehouse_requests_total', { api: 'Test' });
  t.ok(sum(after) >= counted + 4, `the summed counter did not drop with the replaced worker (${counted} before, ${sum(after)} after): Prometheus sees no reset`);
  t.ok(select(samples, 'gatehouse_request_duration_seconds_count', { api: 'Test' })[0]!.value >= counted + 4, 'nor did the histograms');
  const before = accessLines(gw).length;
  await Promise.all(Array.from({ length: 6 }, () => request(`${gw.url}/api/v1/`)));
  await until(() => accessLines(gw).length >= before + 6, 'the access lines');
  t.ok(accessLines(gw).slice(before).some((l) => l.pid === doc.workers[0]!.pid), 'the replacement serves');
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0);
});

t.test('SIGTERM: /readyz 503 at once, every worker drains its requests in flight, exit 0', async (t) => {
  const held = await holdingBackend(t);
  const dir = t.testdir({ 'gateway.yaml': config(held.backend.url).replace('shutdownDelay: 0', 'shutdownDelay: 300ms') });
  const gw = await spawnGateway(t, dir, ['--workers', '2']);
  const pids = (await status(gw)).workers.map((w) => w.pid);
  const inFlight = [request(`${gw.url}/api/v1/slow/one`), request(`${gw.url}/api/v1/slow/two`)];
  await until(() => held.held() === 2, 'both requests at the backend');
  await untilAsync(async () => (await status(gw)).workers.every((w) => w.inFlight === 1), 'one request on each worker');
  gw.child.kill('SIGTERM');
  await gw.logs.waitFor((l) => l.msg.startsWith('stopping: /readyz answers 503'));
  t.equal((await request(`${gw.adminUrl}/readyz`)).status, 503);
  await gw.logs.waitFor((l) => l.msg.startsWith('stopping: no new connections; waiting for requests in flight on every worker'));
  const refused = await request(`${gw.url}/api/v1/`).then(
    () => 'accepted',
    (e: NodeJS.ErrnoException) => e.code,
  );
  t.equal(refused, 'ECONNREFUSED', 'no new connection once draining');
  held.release();
  const responses = await Promise.all(inFlight);
  t.same(
    responses.map((r) => [r.status, r.text]),
    [
      [200, 'started and finished'],
      [200, 'started and finished'],
    ],
    'both requests in flight finished whole',
  );
  t.equal(await gw.exited, 0);
  t.equal(gw.logs.lines.filter((l) => l.msg === 'stopped').length, 1, 'one "stopped", the primary’s');
  t.notOk(gw.logs.find((l) => typeof l.msg === 'string' && l.msg.includes('replacing')), 'no worker was replaced while stopping');
  t.ok(pids.every((pid) => !alive(pid)), 'the workers are gone');
});

t.test('Ctrl-C at a terminal (SIGINT to the whole process group) stops the gateway once, in order', async (t) => {
  const backend = await taggedBackend(t, 'A');
  const dir = t.testdir({ 'gateway.yaml': config(backend.url) });
  const child = spawn(process.execPath, [BIN, 'run', '--workers', '2'], { cwd: dir, env: { PATH: process.env.PATH ?? '' }, stdio: 'pipe', detached: true });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const logs = new LogCapture().follow(child.stdout);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await logs.waitFor((l) => l.msg === 'gateway listening', 20_000);
  process.kill(-child.pid!, 'SIGINT');
  t.equal(await exited, 0);
  t.equal(logs.lines.filter((l) => l.msg === 'signal received').length, 1, 'one signal, the primary’s');
  t.equal(logs.lines.filter((l) => l.msg === 'stopped').length, 1);
  t.notOk(logs.find((l) => l.level >= 50), 'no error: no worker died of it');
});

t.test('the primary killed: its workers exit too, and nothing keeps the port', async (t) => {
  const backend = await taggedBackend(t, 'A');
  const dir = t.testdir({ 'gateway.yaml': config(backend.url) });
  const gw = await spawnGateway(t, dir, ['--workers', '2']);
  const pids = (await status(gw)).workers.map((w) => w.pid);
  const port = Number(new URL(gw.url).port);
  gw.child.kill('SIGKILL');
  await gw.exited;
  await until(() => pids.every((pid) => !alive(pid)), 'the workers to exit', 10_000);
  const server = net.createServer().listen(port, '127.0.0.1');
  await once(server, 'listening');
  t.equal((server.address() as AddressInfo).port, port, 'the port is free again');
  server.close();
});

t.test('64 concurrent connections with access lines longer than a pipe writes at once: no line torn, interleaved or lost', async (t) => {
  const backend = await taggedBackend(t, 'A');
  const dir = t.testdir({ 'gateway.yaml': config(backend.url) });
  const gw = await spawnGateway(t, dir, ['--workers', '2']);
  const userAgent = `load/${'x'.repeat(6_000)}`; // each access line > 6 KB, above PIPE_BUF (4 KiB)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  t.teardown(() => agent.destroy());
  // 800 lines of 6 KB: 4.8 MB, which the workers' and the primary's buffers hold even while this
  // test's own process (the reader) is slow.
  const total = 800;
  let sent = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (sent < total) {
        sent++;
        const res = await request(`${gw.url}/api/v1/`, { agent, headers: { 'user-agent': userAgent } });
        if (res.status !== 200) throw new Error(`status ${res.status}`);
      }
    }),
  );
  await until(() => accessLines(gw).length >= total, `the ${total} access lines`, 30_000).catch(async (error: Error) => {
    const dropped = select(await metrics(gw), 'gatehouse_log_lines_dropped_total')[0]?.value;
    throw new Error(`${error.message} (${accessLines(gw).length} arrived; log lines dropped: ${dropped})`);
  });
  // LogCapture parses every line as JSON: a torn or interleaved line would have thrown.
  const lines = accessLines(gw);
  t.equal(lines.length, total, 'one line per request, each whole JSON');
  t.ok(
    lines.every((l) => l.userAgent === userAgent),
    'every line carries its whole user agent',
  );
  t.same(new Set(lines.map((l) => l.worker)), new Set([1, 2]), 'written by both workers');
  t.equal(gw.logs.raw.filter((raw) => raw.length > 6_000).length, total);
  t.equal(select(await metrics(gw), 'gatehouse_log_lines_dropped_total')[0]?.value, 0, 'none dropped');
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0);
});

t.test('a worker that cannot bind: the same LISTEN_FAILED as one process, nothing started', async (t) => {
  const taken = net.createServer().listen(0, '127.0.0.1');
  await once(taken, 'listening');
  t.teardown(() => taken.close());
  const port = (taken.address() as AddressInfo).port;
  const dir = t.testdir({ 'gateway.yaml': `version: 1\nlisten:\n  http: "127.0.0.1:${port}"\n  workers: 2\nadmin: { address: "127.0.0.1:0" }\napis: []\n` });
  const run = await runCli(['run'], { cwd: dir });
  t.equal(run.code, 1);
  t.match(run.stderr, new RegExp(`^gateway\\.yaml:3:9  listen\\.http: the HTTP listener cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use .*\\[LISTEN_FAILED\\]\\ngatehouse run: gateway\\.yaml has errors; nothing started\\n$`));
  t.equal(run.stdout, '', 'nothing was logged as listening');
});

t.test('--workers must be auto or a number', async (t) => {
  const dir = t.testdir({ 'gateway.yaml': 'version: 1\napis: []\n' });
  const run = await runCli(['run', '--workers', 'many'], { cwd: dir });
  t.equal(run.code, 2);
  t.match(run.stderr, /--workers must be auto or a whole number from 1 to 1024 \(got "many"\)/);
});

t.test('GATEHOUSE_WORKER_BALANCING=reuseport: each worker its own socket where Node has it, else round robin, saying why', async (t) => {
  const backend = await taggedBackend(t, 'A');
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const dir = t.testdir({ 'gateway.yaml': config(backend.url).replace('"127.0.0.1:0"', `"127.0.0.1:${port}"`) });
  const gw = await spawnGateway(t, dir, ['--workers', '2'], [], { env: { GATEHOUSE_WORKER_BALANCING: 'reuseport' } });
  const listening = gw.logs.find((l) => l.msg === 'gateway listening')!;
  if (reusePortAvailable()) {
    t.equal(listening.balancing, 'reuseport', `Node ${process.versions.node} has reusePort`);
  } else {
    t.equal(listening.balancing, 'cluster');
    const warned = gw.logs.find((l) => l.level === 40 && typeof l.msg === 'string' && l.msg.includes('reuseport needs Node.js 22.12 or later'));
    t.ok(warned, 'the fallback is said');
  }
  const agents = Array.from({ length: 24 }, () => new http.Agent({ keepAlive: false }));
  const answers = await Promise.all(agents.map((agent) => request(`${gw.url}/api/v1/`, { agent }).then((r) => r.text)));
  t.same(new Set(answers), new Set(['A']));
  await until(() => accessLines(gw).length === 24, 'the access lines');
  t.same(new Set(accessLines(gw).map((l) => l.worker)), new Set([1, 2]), 'connections reach both workers (the kernel hashes each client port)');
  writeFileSync(path.join(dir, 'gateway.yaml'), config(backend.url).replace('"127.0.0.1:0"', `"127.0.0.1:${port}"`).replace('shutdownTimeout: 10s', 'shutdownTimeout: 9s'));
  t.equal((await request(`${gw.adminUrl}/reload`, { method: 'POST' })).status, 200, 'reloads apply as with round robin');
  t.same(
    (await status(gw)).workers.map((w) => w.generation),
    [2, 2],
  );
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0);
});

t.test('two workers: each reports its suspended targets and open WebSocket tunnels; /status and /metrics show them per worker and summed', async (t) => {
  // A target that resets every connection (a transport failure: suspended), beside one that answers.
  const resets = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.resetAndDestroy();
  });
  resets.listen(0, '127.0.0.1');
  await once(resets, 'listening');
  t.teardown(() => resets.close());
  const dead = `http://127.0.0.1:${(resets.address() as AddressInfo).port}`;
  // A plain WebSocket echo backend (ws over http: the tunnel is what is counted here).
  const echoServer = http.createServer();
  const sockets = new WebSocketServer({ server: echoServer });
  sockets.on('connection', (socket) => socket.on('message', (data: Buffer) => socket.send(data)));
  echoServer.listen(0, '127.0.0.1');
  await once(echoServer, 'listening');
  t.teardown(() => {
    for (const client of sockets.clients) client.terminate();
    echoServer.close();
  });
  const live = `http://127.0.0.1:${(echoServer.address() as AddressInfo).port}`;
  echoServer.on('request', (_req, res: http.ServerResponse) => res.end('live'));

  const dir = t.testdir({
    'gateway.yaml': `version: 1
listen: { http: "127.0.0.1:0", shutdownDelay: 0, shutdownTimeout: 2s }
admin: { address: "127.0.0.1:0" }
apis:
  - { name: Group, context: /group, version: v1, endpoints: { production: { targets: [{ url: "${dead}" }, { url: "${live}" }], suspend: { initial: 1h, max: 1h } } } }
  - { name: Echo, context: /echo, version: v1, endpoints: { production: { url: "${live}" } } }
`,
  });
  const gw = await spawnGateway(t, dir, ['--workers', '2']);
  // New connections, spread over both workers: each worker's group meets the dead target once.
  for (let i = 0; i < 12; i++) t.equal((await request(`${gw.url}/group/v1/x`, { headers: { connection: 'close' } })).text, 'live', `GET ${i + 1} answered by the live target`);
  await until(() => new Set(accessLines(gw).map((l) => l.worker)).size === 2, 'both workers to have served');

  const socket = new WebSocket(`${gw.url.replace('http', 'ws')}/echo/v1/`);
  await once(socket, 'open');
  socket.send('ping');
  t.equal(((await once(socket, 'message')) as [Buffer])[0].toString(), 'ping', 'a tunnel is open');

  interface Doc {
    apis: { endpoints: { production: { state: string; targets: { url: string; state: string }[] } } }[];
    workers: (WorkerStatus & { websocketTunnels: number; suspendedTargets: { url: string; state: string; reason?: string }[] })[];
  }
  const doc = json<Doc>(await request(`${gw.adminUrl}/status`));
  const production = doc.apis[0]!.endpoints.production;
  t.equal(production.state, 'per-worker', 'the primary does not guess: each worker keeps its own states');
  t.same(production.targets.map((target) => target.state), ['per-worker', 'per-worker']);
  for (const worker of doc.workers) {
    t.same(worker.suspendedTargets.map((s) => [s.url, s.state]), [[dead, 'suspended']], `worker ${worker.worker} lists the dead target as suspended, and only it`);
    t.match(worker.suspendedTargets[0]!.reason, /^BACKEND_/, 'with the reason');
  }
  t.equal(doc.workers.reduce((n, w) => n + w.websocketTunnels, 0), 1, 'one tunnel, in the worker that holds it');
  const samples = await metrics(gw);
  t.equal(sum(select(samples, 'gatehouse_websocket_tunnels')), 1, '/metrics sums the tunnels of both workers');
  t.equal(sum(select(samples, 'gatehouse_target_available', { target: dead })), 0, 'the dead target is available in no worker');
  t.equal(sum(select(samples, 'gatehouse_target_available', { target: live })), 2, 'the live one in both (the primary, which serves nothing, does not count)');

  socket.close();
  await untilAsync(async () => json<Doc>(await request(`${gw.adminUrl}/status`)).workers.every((w) => w.websocketTunnels === 0), 'the closed tunnel to be counted out');
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0);
});
