// The proxy benchmark: one command, one run, three targets side by side.
//
//   npm run bench [-- --duration 8 --connections 50 --rounds 5 --one-connection 3]
//
//   direct    the load generator straight to the HTTPS backend (verified against its certificate)
//   minimal   bench/minimal-proxy.ts: node:http + one undici Pool, verification on, nothing else
//   gatehouse the real gateway (`gatehouse run`, compiled, JSON access log to /dev/null)
//   apikey    the same gateway, an API that requires an API key (a keys file of 1,000 entries)
//   group     the same gateway, an endpoint group: round-robin over two targets, the backend's two
//             ports (one process, so that the group costs the machine no second backend), each
//             target with its own pool (docs/endpoints.md)
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
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Client } from 'undici';
import { newApiKey } from '../src/config/keys.js';
import { benchWorkspace, cpuMicros, firstLinePort, median, start, startGateway } from './common.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '5' },
    // Seconds per target and round of the one-connection latency (0: not measured).
    'one-connection': { type: 'string', default: '3' },
  },
});
const duration = Number(values.duration);
const warmup = Number(values.warmup);
const connections = Number(values.connections);
const rounds = Number(values.rounds);
const oneConnectionSeconds = Number(values['one-connection']);

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
  /** CPU time the target process spent per request. */
  cpuPerRequest: number;
  /** New TLS connections the backend accepted during the run. */
  handshakes?: number;
}

interface Target {
  readonly name: string;
  readonly url: string;
  /** The process whose CPU time is counted. */
  readonly pid: number | undefined;
  /** Sent with every request (the API key of `apikey`). */
  readonly headers?: Record<string, string>;
}

async function load({ url, pid, headers }: Target, seconds: number, ca: Buffer, rate?: number): Promise<Figures> {
  const cpuBefore = cpuMicros(pid);
  const result = await autocannon({
    url,
    ...(headers ? { headers } : {}),
    connections: rate ? 10 : connections,
    ...(rate ? { overallRate: rate } : {}),
    duration: seconds,
    ...(url.startsWith('https') ? { tlsOptions: { ca, rejectUnauthorized: true } } : {}),
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    cpuPerRequest: (cpuMicros(pid) - cpuBefore) / Math.max(1, result.requests.total),
  };
}

/** Requests one after another on one keep-alive connection for `seconds`: the latency of each, in microseconds. */
async function oneConnection({ url, headers }: Target, seconds: number, ca: Buffer): Promise<number[]> {
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
  return latencies.sort((a, b) => a - b);
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
  const minimal = await start('minimal proxy', ['--import', 'tsx', 'bench/minimal-proxy.ts', origin, certPath], firstLinePort, path.join(work, 'minimal.out'));

  // A keys file of 1,000 entries, the benchmark's key among them.
  const key = newApiKey();
  const others = Array.from({ length: 999 }, (_, i) => `- { name: app-${i}, sha256: ${newApiKey().sha256}, type: production, apis: [Secured] }\n`);
  writeFileSync(path.join(work, 'keys.yaml'), `${others.join('')}- { name: bench, sha256: ${key.sha256}, type: production, apis: [Secured] }\n`);
  const gateway = await startGateway(
    work,
    `  - name: Bench
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
`,
    cert,
    { top: 'keys: { file: ./keys.yaml }\n' },
  );

  const targets: Target[] = [
    { name: 'direct', url: `${origin}/items?x=1`, pid: backend.child.pid },
    { name: 'minimal', url: `http://127.0.0.1:${minimal.port}/items?x=1`, pid: minimal.child.pid },
    { name: 'gatehouse', url: `http://127.0.0.1:${gateway.port}/bench/v1/items?x=1`, pid: gateway.child.pid },
    { name: 'group', url: `http://127.0.0.1:${gateway.port}/group/v1/items?x=1`, pid: gateway.child.pid },
    { name: 'apikey', url: `http://127.0.0.1:${gateway.port}/secured/v1/items?x=1`, pid: gateway.child.pid, headers: { apikey: key.key } },
  ];

  console.log(`node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), ${connections} connections, ${duration} s x ${rounds} rounds, ${warmup} s warm-up`);
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

  const samples = new Map<string, Figures[]>(targets.map((t) => [t.name, []]));
  for (let round = 0; round < rounds; round++) {
    // Each round starts with another target, so that no target always runs after the same one.
    const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
    for (const target of order) {
      await load(target, 1, ca);
      const handshakesBefore = await handshakes();
      const figures = await load(target, duration, ca);
      figures.handshakes = (await handshakes()) - handshakesBefore;
      samples.get(target.name)!.push(figures);
      console.log(
        `  round ${round + 1} ${target.name.padEnd(9)} ${figures.rps.toFixed(0).padStart(7)} req/s  p50 ${figures.p50} ms  p99 ${figures.p99} ms  CPU ${figures.cpuPerRequest.toFixed(0)} µs/req  backend handshakes ${figures.handshakes}  errors ${figures.errors}  non-2xx ${figures.non2xx}`,
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
  const floor = summary.find((s) => s.name === 'minimal')!;

  // Latency without queueing: at saturation p99 is about connections / throughput for any proxy,
  // so latency is also measured at a fixed rate every target sustains (half the floor's
  // throughput), where it shows the time a request spends in each proxy.
  const rate = Math.round(floor.rps / 2 / 100) * 100;
  console.log(`\nfixed rate: ${rate} req/s over 10 connections, ${duration} s each`);
  const fixed = new Map<string, Figures>();
  for (const target of targets) {
    const figures = await load(target, duration, ca, rate);
    fixed.set(target.name, figures);
    console.log(`  ${target.name.padEnd(9)} ${figures.rps.toFixed(0).padStart(7)} req/s  p50 ${figures.p50} ms  p99 ${figures.p99} ms  CPU ${figures.cpuPerRequest.toFixed(0)} µs/req`);
  }
  console.log('');
  console.log('target      req/s    p50 ms   p99 ms   CPU µs/req   peak RSS MiB   errors   throughput vs minimal   p99 vs minimal   CPU vs minimal');
  for (const s of summary) {
    console.log(
      `${s.name.padEnd(10)} ${s.rps.toFixed(0).padStart(6)}   ${s.p50.toFixed(1).padStart(6)}   ${s.p99.toFixed(1).padStart(6)}   ${s.cpu.toFixed(0).padStart(10)}   ${s.rss.toFixed(1).padStart(12)}   ${String(s.errors).padStart(6)}   ${(s.rps / floor.rps).toFixed(2).padStart(20)}x   ${(s.p99 / floor.p99).toFixed(2).padStart(13)}x   ${(s.cpu / floor.cpu).toFixed(2).padStart(13)}x`,
    );
  }
  const fixedFloor = fixed.get('minimal')!;
  console.log(`\nat ${rate} req/s       p50 ms   p99 ms   p99 vs minimal`);
  for (const target of targets) {
    const f = fixed.get(target.name)!;
    console.log(`${target.name.padEnd(18)} ${f.p50.toFixed(1).padStart(6)}   ${f.p99.toFixed(1).padStart(6)}   ${(f.p99 / fixedFloor.p99).toFixed(2).padStart(13)}x`);
  }
  if (oneConnectionSeconds > 0) {
    console.log(`\none connection, one request after another, ${oneConnectionSeconds} s per target and round, ${rounds} interleaved rounds:`);
    const p50s = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    const p99s = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const target of targets.map((_, i) => targets[(i + round) % targets.length]!)) {
        const latencies = await oneConnection(target, oneConnectionSeconds, ca);
        p50s.get(target.name)!.push(latencies[Math.floor(latencies.length / 2)]!);
        p99s.get(target.name)!.push(latencies[Math.floor(latencies.length * 0.99)]!);
      }
    }
    const direct = median(p50s.get('direct')!);
    console.log('target      p50 µs   p99 µs   p50 above direct');
    for (const target of targets) {
      const p50 = median(p50s.get(target.name)!);
      console.log(`${target.name.padEnd(10)} ${p50.toFixed(0).padStart(7)}  ${median(p99s.get(target.name)!).toFixed(0).padStart(7)}   ${(p50 - direct).toFixed(0).padStart(10)} µs`);
    }
  }
  const single = summary.find((s) => s.name === 'gatehouse')!;
  const group = summary.find((s) => s.name === 'group')!;
  console.log(`\na round-robin group of 2 targets vs a single url: CPU ${((group.cpu / single.cpu - 1) * 100).toFixed(1)} % per request, throughput ${(group.rps / single.rps).toFixed(2)}x`);
  const secured = summary.find((s) => s.name === 'apikey')!;
  console.log(`an API key checked (1,000 keys in the file) vs an open API: ${(secured.cpu - single.cpu).toFixed(1)} µs CPU per request, throughput ${(secured.rps / single.rps).toFixed(2)}x`);
  console.log('\n(CPU and RSS: of the backend for direct (the first backend only), of the proxy process for minimal, gatehouse and group)');
  process.exit(0);
}

await main();
