// The proxy benchmark: one command, one run, the targets side by side.
//
//   npm run bench [-- --duration 8 --connections 50 --rounds 5 --one-connection 3 --targets gatehouse,apikey,limited,redis]
//
//   direct    the load generator straight to the HTTPS backend (verified against its certificate)
//   minimal   bench/minimal-proxy.ts: node:http + one undici Pool, verification on, nothing else
//   gatehouse the real gateway (`gatehouse run`, compiled, JSON access log to /dev/null)
//   apikey    the same gateway, an API that requires an API key (a keys file of 1,000 entries)
//   group     the same gateway, an endpoint group: round-robin over two targets, the backend's two
//             ports (one process, so that the group costs the machine no second backend), each
//             target with its own pool (docs/endpoints.md)
//   limited   the same gateway, an API like apikey's with a rateLimit, called with a key on a plan:
//             two rules counted per request (the API's and the plan's) in the memory store, with
//             limits nobody reaches (10^9 per day): the cost of counting, never a refusal
//   redis     the same as limited in a second gateway whose rateLimits.store is a redis-server on a
//             free loopback port, started here (skipped, with a message, without redis-server)
//
// The backend has a self-signed certificate that both proxies verify. Each target is measured
// `rounds` times, interleaved (each round starting with another target), after a warm-up, and
// each run after one second of its own load (the gateway's idle backend connections close after
// 4 s: without it a run would start with the handshakes of the pools the other runs left idle); the
// table shows the median of the rounds. Load comes
// from autocannon in this process; on a 2-core machine the three processes share the cores, so
// read the ratios more than the absolute figures. Last, the latency a single client sees: one
// keep-alive connection, one request after another (undici), the median per target over the
// same interleaved rounds: what a proxy adds to a request when nothing queues.
//
// limited and redis count with rateLimits.onStoreError: deny, so that a request the store did not
// count is a 503 and shows as non-2xx; and at the end each gateway's count (RateLimit-Remaining of
// one more request) is checked against the responses the load generator got.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { createClient } from 'redis';
import { Client, request } from 'undici';
import { newApiKey } from '../src/config/keys.js';
import { benchWorkspace, cpuMicros, firstLinePort, freePort, median, start, startGateway } from './common.js';

const ALL_TARGETS = ['direct', 'minimal', 'gatehouse', 'group', 'apikey', 'limited', 'redis'] as const;
type TargetName = (typeof ALL_TARGETS)[number];

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '5' },
    // Seconds per target and round of the one-connection latency (0: not measured).
    'one-connection': { type: 'string', default: '3' },
    // Which targets to measure, comma-separated (default: all).
    targets: { type: 'string', default: ALL_TARGETS.join(',') },
  },
});
const duration = Number(values.duration);
const warmup = Number(values.warmup);
const connections = Number(values.connections);
const rounds = Number(values.rounds);
const oneConnectionSeconds = Number(values['one-connection']);
const chosen = new Set(values.targets.split(',').map((t) => t.trim()).filter(Boolean));
for (const name of chosen) {
  if (!(ALL_TARGETS as readonly string[]).includes(name)) throw new Error(`--targets: unknown target "${name}" (known: ${ALL_TARGETS.join(', ')})`);
}
const wanted = (name: TargetName): boolean => chosen.has(name);

/** Limits nobody reaches in a run: every request is counted, none refused. */
const NEVER = { requests: 1_000_000_000, per: '1d' };

function peakRssMiB(pid: number | undefined): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** Responses the load generator got. */
  total: number;
  /** CPU time the target process spent per request. */
  cpuPerRequest: number;
  /** CPU time per request of the target's helper process (the redis-server of `redis`). */
  helperCpuPerRequest?: number;
  /** New TLS connections the backend accepted during the run. */
  handshakes?: number;
}

interface Target {
  readonly name: TargetName;
  readonly url: string;
  /** The process whose CPU time is counted. */
  readonly pid: number | undefined;
  /** Sent with every request (the API key of `apikey`, `limited` and `redis`). */
  readonly headers?: Record<string, string>;
  /** Another process that works for this target, whose CPU is counted apart (the redis-server). */
  readonly helper?: { readonly name: string; readonly pid: number | undefined };
}

/** Responses each target's load generators got in the whole run (warm-ups included): what its rate limits should have counted. */
const served = new Map<TargetName, number>();

async function load({ name, url, pid, headers, helper }: Target, seconds: number, ca: Buffer, rate?: number): Promise<Figures> {
  const cpuBefore = cpuMicros(pid);
  const helperBefore = helper ? cpuMicros(helper.pid) : 0;
  const result = await autocannon({
    url,
    ...(headers ? { headers } : {}),
    connections: rate ? 10 : connections,
    ...(rate ? { overallRate: rate } : {}),
    duration: seconds,
    ...(url.startsWith('https') ? { tlsOptions: { ca, rejectUnauthorized: true } } : {}),
  });
  const requests = Math.max(1, result.requests.total);
  served.set(name, (served.get(name) ?? 0) + result.requests.total);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    total: result.requests.total,
    cpuPerRequest: (cpuMicros(pid) - cpuBefore) / requests,
    ...(helper ? { helperCpuPerRequest: (cpuMicros(helper.pid) - helperBefore) / requests } : {}),
  };
}

/** Requests one after another on one keep-alive connection for `seconds`: the latency of each, in microseconds. */
async function oneConnection({ name, url, headers }: Target, seconds: number, ca: Buffer): Promise<number[]> {
  const { origin, pathname, search } = new URL(url);
  const client = new Client(origin, { connect: { ca, rejectUnauthorized: true }, pipelining: 1 });
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  try {
    while (performance.now() < end) {
      const started = performance.now();
      const { statusCode, body } = await client.request({ path: pathname + search, method: 'GET', ...(headers ? { headers } : {}) });
      await body.dump();
      if (statusCode !== 200) throw new Error(`${url}: ${statusCode}`);
      latencies.push((performance.now() - started) * 1000);
    }
  } finally {
    await client.close();
  }
  served.set(name, (served.get(name) ?? 0) + latencies.length);
  return latencies.sort((a, b) => a - b);
}

/** One request: its status and RateLimit-Remaining (undefined when the response has none). */
async function probe({ url, headers }: Target): Promise<{ status: number; remaining: number | undefined }> {
  const { statusCode, headers: got, body } = await request(url, { ...(headers ? { headers } : {}) });
  await body.dump();
  const remaining = got['ratelimit-remaining'];
  return { status: statusCode, remaining: typeof remaining === 'string' ? Number(remaining) : undefined };
}

/** The redis-server on PATH, or undefined. */
function redisServerPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/** A redis-server on a free loopback port, without persistence (as test/helpers/redis.ts starts one), once it answers. */
async function startRedis(binary: string, work: string): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const dir = path.join(work, 'redis-data');
  mkdirSync(dir, { recursive: true });
  const fd = openSync(path.join(work, 'redis.out'), 'w');
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  process.on('exit', () => child.kill('SIGKILL'));
  const client = createClient({ url: `redis://127.0.0.1:${port}/0`, socket: { reconnectStrategy: () => 20 } });
  client.on('error', () => undefined);
  const deadline = Date.now() + 10_000;
  try {
    await Promise.race([
      client.connect().then(() => client.ping()),
      new Promise((_, reject) => {
        const timer = setInterval(() => {
          if (child.exitCode !== null) reject(new Error(`redis-server exited (${child.exitCode}); see ${path.join(work, 'redis.out')}`));
          else if (Date.now() > deadline) reject(new Error(`redis-server did not answer on port ${port} within 10 s`));
          else return;
          clearInterval(timer);
        }, 50);
        client.once('ready', () => clearInterval(timer));
      }),
    ]);
  } finally {
    client.destroy();
  }
  return { child, port };
}

/** Redis's counts per command (INFO commandstats): calls and µs per call. */
async function commandStats(port: number): Promise<Map<string, { calls: number; usecPerCall: number }>> {
  const client = createClient({ url: `redis://127.0.0.1:${port}/0` });
  await client.connect();
  try {
    const info = await client.info('commandstats');
    const stats = new Map<string, { calls: number; usecPerCall: number }>();
    for (const match of info.matchAll(/^cmdstat_(\w+):calls=(\d+),usec=\d+,usec_per_call=([\d.]+)/gm)) stats.set(match[1]!, { calls: Number(match[2]), usecPerCall: Number(match[3]) });
    return stats;
  } finally {
    client.destroy();
  }
}

async function main(): Promise<void> {
  const { work, cert, certPath, keyPath } = benchWorkspace('gatehouse-bench-');
  const ca = Buffer.from(cert);

  const backendOutput = path.join(work, 'backend.out');
  const backend = await start('backend', ['--import', 'tsx', 'bench/backend.ts', certPath, keyPath, '2'], firstLinePort, backendOutput);
  const origin = `https://127.0.0.1:${backend.port}`;
  let secondPort: number | undefined;
  while (secondPort === undefined) {
    secondPort = Number(/^second (\d+)$/m.exec(readFileSync(backendOutput, 'utf8'))?.[1]) || undefined;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const minimal = wanted('minimal') ? await start('minimal proxy', ['--import', 'tsx', 'bench/minimal-proxy.ts', origin, certPath], firstLinePort, path.join(work, 'minimal.out')) : undefined;

  // A keys file of 1,000 entries, the benchmark's two keys among them: `bench` (no plan) for
  // apikey, `bench-gold` (plan Gold) for limited and redis.
  const key = newApiKey();
  const goldKey = newApiKey();
  const others = Array.from({ length: 998 }, (_, i) => `- { name: app-${i}, sha256: ${newApiKey().sha256}, type: production, apis: [Secured] }\n`);
  const keysFile = `${others.join('')}- { name: bench, sha256: ${key.sha256}, type: production, apis: [Secured] }\n- { name: bench-gold, sha256: ${goldKey.sha256}, type: production, apis: [Limited], plan: Gold }\n`;
  const apis = `  - name: Bench
    context: /bench
    version: v1
    endpoints:
      production: { url: "${origin}", certificate: backend }
  - name: Group
    context: /group
    version: v1
    endpoints:
      production: { certificate: backend, targets: [{ url: "${origin}" }, { url: "https://127.0.0.1:${secondPort}" }] }
  - name: Secured
    context: /secured
    version: v1
    security: { apiKey: {} }
    endpoints:
      production: { url: "${origin}", certificate: backend }
  - name: Limited
    context: /limited
    version: v1
    security: { apiKey: {} }
    rateLimit: { requests: ${NEVER.requests}, per: ${NEVER.per} }
    endpoints:
      production: { url: "${origin}", certificate: backend }
`;
  // The same configuration for both gateways but the store. The plan applies to keys that name
  // it (bench-gold): apikey's key has none, so that target counts nothing.
  const top = (store: string): string => `keys: { file: ./keys.yaml }\nplans: { Gold: { requests: ${NEVER.requests}, per: ${NEVER.per} } }\nrateLimits: { store: "${store}", onStoreError: deny }\n`;
  const needsGateway = (['gatehouse', 'group', 'apikey', 'limited'] as const).some(wanted);
  let gateway: { port: number; child: ChildProcess } | undefined;
  if (needsGateway) {
    writeFileSync(path.join(work, 'keys.yaml'), keysFile);
    gateway = await startGateway(work, apis, cert, { top: top('memory') });
  }

  let redis: { child: ChildProcess; port: number } | undefined;
  let redisGateway: { port: number; child: ChildProcess } | undefined;
  if (wanted('redis')) {
    const binary = redisServerPath();
    if (!binary) {
      console.log('redis: skipped (no redis-server on PATH: apt-get install redis-server)');
      chosen.delete('redis');
    } else {
      redis = await startRedis(binary, work);
      const redisWork = path.join(work, 'redis-gateway');
      mkdirSync(redisWork, { recursive: true });
      writeFileSync(path.join(redisWork, 'keys.yaml'), keysFile);
      redisGateway = await startGateway(redisWork, apis, cert, { top: top(`redis://127.0.0.1:${redis.port}/0`) });
    }
  }

  const all: Target[] = [
    { name: 'direct', url: `${origin}/items?x=1`, pid: backend.child.pid },
    ...(minimal ? [{ name: 'minimal' as const, url: `http://127.0.0.1:${minimal.port}/items?x=1`, pid: minimal.child.pid }] : []),
    ...(gateway
      ? [
          { name: 'gatehouse' as const, url: `http://127.0.0.1:${gateway.port}/bench/v1/items?x=1`, pid: gateway.child.pid },
          { name: 'group' as const, url: `http://127.0.0.1:${gateway.port}/group/v1/items?x=1`, pid: gateway.child.pid },
          { name: 'apikey' as const, url: `http://127.0.0.1:${gateway.port}/secured/v1/items?x=1`, pid: gateway.child.pid, headers: { apikey: key.key } },
          { name: 'limited' as const, url: `http://127.0.0.1:${gateway.port}/limited/v1/items?x=1`, pid: gateway.child.pid, headers: { apikey: goldKey.key } },
        ]
      : []),
    ...(redisGateway && redis
      ? [{ name: 'redis' as const, url: `http://127.0.0.1:${redisGateway.port}/limited/v1/items?x=1`, pid: redisGateway.child.pid, headers: { apikey: goldKey.key }, helper: { name: 'redis-server', pid: redis.child.pid } }]
      : []),
  ];
  const targets = all.filter((t) => chosen.has(t.name));
  if (targets.length === 0) throw new Error('no target to measure');
  const byName = (name: TargetName) => targets.find((t) => t.name === name);

  // The limited targets answer with RateLimit headers once their store counts (Redis: once connected).
  for (const target of targets.filter((t) => t.name === 'limited' || t.name === 'redis')) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { status, remaining } = await probe(target);
      served.set(target.name, (served.get(target.name) ?? 0) + (status === 200 ? 1 : 0));
      if (status === 200 && remaining !== undefined) break;
      if (Date.now() > deadline) throw new Error(`${target.name}: no counted 200 within 10 s (last status ${status})`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  console.log(`node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), ${connections} connections, ${duration} s x ${rounds} rounds, ${warmup} s warm-up, targets ${targets.map((t) => t.name).join(', ')}`);
  for (const target of targets) await load(target, warmup, ca);

  /** TLS handshakes the backend has accepted so far (it prints the count on SIGUSR2). */
  const handshakes = async (): Promise<number> => {
    const before = readFileSync(backendOutput, 'utf8').length;
    backend.child.kill('SIGUSR2');
    for (;;) {
      const text = readFileSync(backendOutput, 'utf8').slice(before);
      const match = /handshakes (\d+)/.exec(text);
      if (match) return Number(match[1]);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const samples = new Map<TargetName, Figures[]>(targets.map((t) => [t.name, []]));
  for (let round = 0; round < rounds; round++) {
    // Each round starts with another target, so that no target always runs after the same one.
    const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
    for (const target of order) {
      await load(target, 1, ca);
      const handshakesBefore = await handshakes();
      const figures = await load(target, duration, ca);
      figures.handshakes = (await handshakes()) - handshakesBefore;
      samples.get(target.name)!.push(figures);
      const helperCpu = figures.helperCpuPerRequest === undefined ? '' : ` + ${target.helper!.name} ${figures.helperCpuPerRequest.toFixed(0)}`;
      console.log(
        `  round ${round + 1} ${target.name.padEnd(9)} ${figures.rps.toFixed(0).padStart(7)} req/s  p50 ${figures.p50} ms  p99 ${figures.p99} ms  CPU ${figures.cpuPerRequest.toFixed(0)}${helperCpu} µs/req  backend handshakes ${figures.handshakes}  errors ${figures.errors}  non-2xx ${figures.non2xx}`,
      );
    }
  }

  const summary = targets.map((t) => {
    const s = samples.get(t.name)!;
    return {
      name: t.name,
      rps: median(s.map((f) => f.rps)),
      p50: median(s.map((f) => f.p50)),
      p99: median(s.map((f) => f.p99)),
      errors: s.reduce((a, f) => a + f.errors + f.non2xx, 0),
      cpu: median(s.map((f) => f.cpuPerRequest)),
      rss: peakRssMiB(t.pid),
    };
  });
  // What the other targets are compared with: the floor (minimal) when it is measured.
  const floor = summary.find((s) => s.name === 'minimal') ?? summary.find((s) => s.name === 'gatehouse') ?? summary[0]!;

  // Latency without queueing: at saturation p99 is about connections / throughput for any proxy,
  // so latency is also measured at a fixed rate every target sustains (half the floor's
  // throughput, or of the slowest target's without the floor), where it shows the time a request
  // spends in each proxy.
  const rate = Math.round((floor.name === 'minimal' ? floor.rps : Math.min(...summary.map((s) => s.rps))) / 2 / 100) * 100;
  console.log(`\nfixed rate: ${rate} req/s over 10 connections, ${duration} s each`);
  const fixed = new Map<TargetName, Figures>();
  for (const target of targets) {
    const figures = await load(target, duration, ca, rate);
    fixed.set(target.name, figures);
    const helperCpu = figures.helperCpuPerRequest === undefined ? '' : ` + ${target.helper!.name} ${figures.helperCpuPerRequest.toFixed(0)}`;
    console.log(`  ${target.name.padEnd(9)} ${figures.rps.toFixed(0).padStart(7)} req/s  p50 ${figures.p50} ms  p99 ${figures.p99} ms  CPU ${figures.cpuPerRequest.toFixed(0)}${helperCpu} µs/req  non-2xx ${figures.non2xx}`);
  }
  console.log('');
  const vs = floor.name;
  console.log(`target      req/s    p50 ms   p99 ms   CPU µs/req   peak RSS MiB   errors   ${`throughput vs ${vs}`.padStart(20)}   ${`p99 vs ${vs}`.padStart(14)}   ${`CPU vs ${vs}`.padStart(14)}`);
  for (const s of summary) {
    console.log(
      `${s.name.padEnd(10)} ${s.rps.toFixed(0).padStart(6)}   ${s.p50.toFixed(1).padStart(6)}   ${s.p99.toFixed(1).padStart(6)}   ${s.cpu.toFixed(0).padStart(10)}   ${s.rss.toFixed(1).padStart(12)}   ${String(s.errors).padStart(6)}   ${(s.rps / floor.rps).toFixed(2).padStart(20)}x   ${(s.p99 / floor.p99).toFixed(2).padStart(13)}x   ${(s.cpu / floor.cpu).toFixed(2).padStart(13)}x`,
    );
  }
  const fixedFloor = fixed.get(floor.name)!;
  console.log(`\nat ${rate} req/s       p50 ms   p99 ms   p99 vs ${vs}`);
  for (const target of targets) {
    const f = fixed.get(target.name)!;
    console.log(`${target.name.padEnd(18)} ${f.p50.toFixed(1).padStart(6)}   ${f.p99.toFixed(1).padStart(6)}   ${(f.p99 / fixedFloor.p99).toFixed(2).padStart(13)}x`);
  }
  if (oneConnectionSeconds > 0) {
    console.log(`\none connection, one request after another, ${oneConnectionSeconds} s per target and round, ${rounds} interleaved rounds:`);
    const p50s = new Map<TargetName, number[]>(targets.map((t) => [t.name, []]));
    const p99s = new Map<TargetName, number[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const target of targets.map((_, i) => targets[(i + round) % targets.length]!)) {
        const latencies = await oneConnection(target, oneConnectionSeconds, ca);
        p50s.get(target.name)!.push(latencies[Math.floor(latencies.length / 2)]!);
        p99s.get(target.name)!.push(latencies[Math.floor(latencies.length * 0.99)]!);
      }
    }
    const baseName = byName('direct') ? 'direct' : floor.name;
    const base = median(p50s.get(baseName)!);
    console.log(`target      p50 µs   p99 µs   p50 above ${baseName}`);
    for (const target of targets) {
      const p50 = median(p50s.get(target.name)!);
      console.log(`${target.name.padEnd(10)} ${p50.toFixed(0).padStart(7)}  ${median(p99s.get(target.name)!).toFixed(0).padStart(7)}   ${(p50 - base).toFixed(0).padStart(10)} µs`);
    }
  }

  console.log('');
  const of = (name: TargetName) => summary.find((s) => s.name === name);
  const single = of('gatehouse');
  const group = of('group');
  if (single && group) console.log(`a round-robin group of 2 targets vs a single url: CPU ${((group.cpu / single.cpu - 1) * 100).toFixed(1)} % per request, throughput ${(group.rps / single.rps).toFixed(2)}x`);
  /** Per round: `name`'s figure minus (or over) the open API's of the same round. */
  const perRound = (name: TargetName, figure: (f: Figures) => number, compare: (a: number, b: number) => number, over: TargetName = 'gatehouse') =>
    samples.get(name)!.map((f, i) => compare(figure(f), figure(samples.get(over)![i]!)));
  const signed = (n: number, digits = 1) => `${n >= 0 ? '+' : ''}${n.toFixed(digits)}`;
  const describeCost = (name: TargetName, what: string, over: TargetName = 'gatehouse', overWhat = 'an open API'): void => {
    const s = of(name);
    const base = of(over);
    if (!base || !s) return;
    const differences = perRound(name, (f) => f.cpuPerRequest, (a, b) => a - b, over);
    console.log(
      `${what} vs ${overWhat}: ${signed(s.cpu - base.cpu)} µs CPU per request (medians ${s.cpu.toFixed(1)} vs ${base.cpu.toFixed(1)}; per round ${differences.map((d) => signed(d, 0)).join(', ')}, median ${signed(median(differences))}), throughput ${(s.rps / base.rps).toFixed(2)}x`,
    );
  };
  describeCost('apikey', 'an API key checked (1,000 keys in the file)');
  describeCost('limited', 'an API key checked + 2 rules counted in memory');
  describeCost('redis', 'an API key checked + 2 rules counted in Redis (the gateway alone)');
  describeCost('limited', '2 rules counted in memory (the limit alone)', 'apikey', 'the key checked without a limit');
  const limited = of('limited');
  const redised = of('redis');
  if (redised) {
    const helper = median(samples.get('redis')!.map((f) => f.helperCpuPerRequest!));
    console.log(`the redis-server's own CPU: ${helper.toFixed(1)} µs per request (median of the rounds), ${((helper * redised.rps) / 10_000).toFixed(0)} % of a core at ${redised.rps.toFixed(0)} req/s`);
  }
  if (limited && redised) {
    const ratios = perRound('redis', (f) => f.rps, (a, b) => a / b, 'limited');
    console.log(`throughput redis / limited: ${(redised.rps / limited.rps).toFixed(2)}x (medians ${redised.rps.toFixed(0)} vs ${limited.rps.toFixed(0)} req/s; per round ${ratios.map((r) => r.toFixed(2)).join(', ')}, median ${median(ratios).toFixed(2)}x; goal ≥ 0.7x)`);
  }
  if (limited && single) console.log(`goal, API-key check + in-memory limit ≤ 10 µs CPU per request over an open API: ${limited.cpu - single.cpu <= 10 ? 'met' : 'not met'} as measured (${signed(limited.cpu - single.cpu)} µs)`);

  // Every request of limited and redis should have been counted, and none refused.
  for (const target of targets.filter((t) => t.name === 'limited' || t.name === 'redis')) {
    const { status, remaining } = await probe(target);
    const counted = NEVER.requests - (remaining ?? NaN);
    const got = (served.get(target.name) ?? 0) + 1;
    const refused = [...samples.get(target.name)!, fixed.get(target.name)!].reduce((a, f) => a + f.non2xx + f.errors, 0);
    // Requests in flight when a run stops are counted and never answered: up to `connections` per run.
    console.log(`${target.name}: the store counted ${counted} requests, the load generators got ${got} responses (status of the last: ${status}); non-2xx or errors in the measured runs: ${refused}${refused > 0 || counted < got ? '  <-- NOT all counted and allowed: the figures are meaningless' : ''}`);
  }
  if (redis && redised) {
    const stats = await commandStats(redis.port);
    const lines = [...stats].filter(([, s]) => s.calls > 100).map(([name, s]) => `${name} ${s.calls} calls, ${s.usecPerCall.toFixed(2)} µs each`);
    const counted = served.get('redis') ?? 1;
    console.log(`redis-server commands: ${lines.join('; ')} (${((stats.get('eval')?.calls ?? 0) / counted).toFixed(2)} EVAL per response)`);
  }
  console.log(`\n(CPU and RSS: of the backend for direct (the first backend only), of the proxy process for the others; for redis the gateway's, its redis-server's CPU apart)`);
  if (redis) {
    const exited = new Promise((resolve) => redis.child.once('exit', resolve));
    redis.child.kill('SIGTERM');
    await exited;
  }
  process.exit(0);
}

await main();
