// The workers benchmark: Gatehouse with 1 and N workers beside nginx with N worker processes, in
// front of the same HTTPS backend, loaded by wrk, in one run (bench/README.md, "Workers").
//
//   npm run bench:workers [-- --workers 2 --duration 8 --rounds 8 --connections 64 --pin]
//
// Targets, each measured once per round, the rounds interleaved (each starting with another
// target), the table showing medians:
//   gatehouse-1          gatehouse run, one process
//   gatehouse-N          gatehouse run --workers N (node:cluster round robin)
//   gatehouse-N-reuseport the same with GATEHOUSE_WORKER_BALANCING=reuseport, where Node has it
//   gatehouse-N-stdout   (--with-stdout) access lines on stdout, which the primary relays
//   nginx-N              nginx, worker_processes N, proxy_pass to the backend with verification on
//                        and kept-alive upstream connections (what Gatehouse's pools do)
// Every proxy writes an access line per request to a file of its own (nginx: buffer=64k).
//
// The backend is nginx too (a fixed JSON body over HTTPS with a self-signed certificate), and the
// load generator is wrk: both in C, so that as little of the two cores as possible goes anywhere
// but the proxy. Without --pin nothing is pinned: every process may run on every core, which is
// what workers are for. With --pin, wrk and the backend run on CPU 0 and the proxy on the others.
// CPU per request is the proxy's own (every process of it: primary and workers, master and
// workers), from /proc, divided by the requests wrk counted.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchWorkspace, freePort, median } from './common.js';
import { reusePortAvailable } from '../src/workers/balance.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: String(os.availableParallelism()) },
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '8' },
    threads: { type: 'string', default: '1' },
    pin: { type: 'boolean', default: false },
    /** Also Gatehouse with N workers logging access lines to stdout (relayed by the primary) instead of a file. */
    'with-stdout': { type: 'boolean', default: false },
    /** Another Node.js for the gateway (reusePort needs 22.12+): `--node /tmp/node24/node_modules/.bin/node`. */
    node: { type: 'string', default: process.execPath },
  },
});
const workers = Number(values.workers);
const duration = Number(values.duration);
const warmup = Number(values.warmup);
const connections = Number(values.connections);
const rounds = Number(values.rounds);
const cpus = os.availableParallelism();
const loadCpus = values.pin ? '0' : undefined;
const proxyCpus = values.pin ? Array.from({ length: cpus - 1 }, (_, i) => i + 1).join(',') : undefined;

for (const tool of ['nginx', 'wrk']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    console.error(`bench:workers needs ${tool}: apt-get install nginx-light wrk (Debian), brew install nginx wrk (macOS)`);
    process.exit(2);
  }
}

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

const pinned = (cpuList: string | undefined, command: string[]): string[] => (cpuList ? ['taskset', '-c', cpuList, ...command] : command);

async function waitForPort(port: number, name: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}) before listening`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${name} did not listen on ${port} within 20 s`);
}

function run(name: string, command: string[], output: string, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const fd = openSync(output, 'w');
  const child = spawn(command[0]!, command.slice(1), { cwd: ROOT, stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  children.push(child);
  child.on('error', (error) => console.error(`${name}: ${error.message}`));
  return child;
}

/** A process and its descendants (a primary's workers, nginx's master's workers). */
function tree(pid: number): number[] {
  const out = [pid];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const child of text.trim().split(/\s+/).filter(Boolean)) out.push(...tree(Number(child)));
  }
  return out;
}

/** User + system CPU of processes, in microseconds (clock ticks of 10 ms). */
function cpuMicros(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      out.set(pid, (Number(fields[11]) + Number(fields[12])) * 10_000);
    } catch {
      out.set(pid, 0);
    }
  }
  return out;
}

function nginxConfig(dir: string, processes: number, body: string, accessLog = 'off'): string {
  return `worker_processes ${processes};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log ${accessLog};
  ${body}
}
`;
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU µs per request of the whole proxy, and of each of its processes. */
  cpu: number;
  perProcess: number[];
}

function parseWrk(text: string): { rps: number; p50: number; p99: number; requests: number; errors: number } {
  const ms = (value: string, unit: string) => Number(value) * ({ us: 0.001, ms: 1, s: 1000 }[unit] ?? 1);
  const latency = (label: string) => {
    const match = new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(text);
    return match ? ms(match[1]!, match[2]!) : NaN;
  };
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? 0);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? 0),
    p50: latency('50'),
    p99: latency('99'),
    requests,
    errors: non2xx + (errors ? errors.slice(1).reduce((s, n) => s + Number(n), 0) : 0),
  };
}

function load(url: string, seconds: number, pids: readonly number[]): Figures {
  const before = cpuMicros(pids);
  const wrk = spawnSync(pinned(loadCpus, ['wrk'])[0]!, [...pinned(loadCpus, ['wrk']).slice(1), '-t', values.threads, '-c', String(connections), '-d', `${seconds}s`, '--latency', url], { encoding: 'utf8' });
  const after = cpuMicros(pids);
  const result = parseWrk(wrk.stdout);
  const perProcess = pids.map((pid) => (after.get(pid)! - before.get(pid)!) / Math.max(1, result.requests));
  return { rps: result.rps, p50: result.p50, p99: result.p99, errors: result.errors, cpu: perProcess.reduce((s, x) => s + x, 0), perProcess };
}

async function main(): Promise<void> {
  const { work, cert, certPath, keyPath } = benchWorkspace('gatehouse-bench-workers-');

  // The backend: nginx answering a fixed JSON body over HTTPS, on CPU 0 when pinned.
  const backendPort = await freePort();
  const backendDir = path.join(work, 'backend');
  mkdirSync(backendDir);
  const body = JSON.stringify({ ok: true, service: 'bench backend', items: [1, 2, 3, 4, 5, 6, 7, 8] });
  writeFileSync(
    path.join(backendDir, 'nginx.conf'),
    nginxConfig(
      backendDir,
      1,
      `server {
    listen 127.0.0.1:${backendPort} ssl;
    ssl_certificate ${certPath};
    ssl_certificate_key ${keyPath};
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    location / { default_type application/json; return 200 '${body}'; }
  }`,
    ),
  );
  const backend = run('backend', pinned(loadCpus, ['nginx', '-p', backendDir, '-c', path.join(backendDir, 'nginx.conf'), '-g', 'daemon off;']), path.join(backendDir, 'out'));
  await waitForPort(backendPort, 'the backend', backend);
  const origin = `https://127.0.0.1:${backendPort}`;

  // nginx with N workers, as a proxy that verifies the backend and keeps its connections.
  const nginxPort = await freePort();
  const proxyDir = path.join(work, 'nginx');
  mkdirSync(proxyDir);
  writeFileSync(
    path.join(proxyDir, 'nginx.conf'),
    nginxConfig(
      proxyDir,
      workers,
      `upstream backend { server 127.0.0.1:${backendPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${nginxPort};
    keepalive_requests 1000000;
    location /bench/v1/ {
      proxy_pass https://backend/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate ${certPath};
      proxy_ssl_name localhost;
      proxy_ssl_session_reuse on;
    }
  }`,
      `${proxyDir}/access.log combined buffer=64k flush=1s`,
    ),
  );
  const nginx = run('nginx', pinned(proxyCpus, ['nginx', '-p', proxyDir, '-c', path.join(proxyDir, 'nginx.conf'), '-g', 'daemon off;']), path.join(proxyDir, 'out'));
  await waitForPort(nginxPort, 'nginx', nginx);

  mkdirSync(path.join(work, 'certs'));
  writeFileSync(path.join(work, 'certs', 'backend.crt'), cert);
  const gateway = async (name: string, count: number, env: NodeJS.ProcessEnv = {}, accessLog: 'file' | 'stdout' = 'file') => {
    const port = await freePort();
    const file = path.join(work, `${name}.yaml`);
    writeFileSync(
      file,
      `version: 1
listen: { http: "127.0.0.1:${port}", workers: ${count} }
admin: { address: "127.0.0.1:0" }
accessLog: { destination: ${accessLog === 'file' ? `./${name}.access.log` : 'stdout'} }
certs: { directory: ./certs }
apis:
  - name: Bench
    context: /bench
    version: v1
    endpoints:
      production: { url: "${origin}", certificate: backend }
`,
    );
    const child = run(name, pinned(proxyCpus, [values.node, path.join(ROOT, 'bin', 'gatehouse.js'), 'run', '-c', file]), path.join(work, `${name}.log`), { ...process.env, ...env });
    await waitForPort(port, name, child);
    // Every worker listens before the primary says so; the log line is the sign.
    const deadline = Date.now() + 20_000;
    while (!readFileSync(path.join(work, `${name}.log`), 'utf8').includes('gateway listening')) {
      if (Date.now() > deadline) throw new Error(`${name} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { name, url: `http://127.0.0.1:${port}/bench/v1/items?x=1`, pids: () => tree(child.pid!) };
  };

  const targets = [
    await gateway('gatehouse-1', 1),
    await gateway(`gatehouse-${workers}`, workers),
    ...(reusePortAvailable(spawnSync(values.node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim()) ? [await gateway(`gatehouse-${workers}-reuseport`, workers, { GATEHOUSE_WORKER_BALANCING: 'reuseport' })] : []),
    ...(values['with-stdout'] ? [await gateway(`gatehouse-${workers}-stdout`, workers, {}, 'stdout')] : []),
    { name: `nginx-${workers}`, url: `http://127.0.0.1:${nginxPort}/bench/v1/items?x=1`, pids: () => tree(nginx.pid!) },
  ];
  const node = spawnSync(values.node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(
    `gateway on node ${node}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), wrk -t${values.threads} -c${connections}, ${duration} s x ${rounds} rounds, ${values.pin ? `pinned: wrk and the backend on CPU ${loadCpus}, proxies on ${proxyCpus}` : 'nothing pinned'}`,
  );
  for (const target of targets) load(target.url, warmup, target.pids());

  const samples = new Map<string, Figures[]>(targets.map((t) => [t.name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
    for (const target of order) {
      const figures = load(target.url, duration, target.pids());
      samples.get(target.name)!.push(figures);
      console.log(
        `  round ${round + 1} ${target.name.padEnd(22)} ${figures.rps.toFixed(0).padStart(7)} req/s  p50 ${figures.p50.toFixed(2)} ms  p99 ${figures.p99.toFixed(2)} ms  CPU ${figures.cpu.toFixed(0)} µs/req (${figures.perProcess.map((c) => c.toFixed(0)).join(' + ')})  errors ${figures.errors}`,
      );
    }
  }
  const single = median(samples.get('gatehouse-1')!.map((f) => f.rps));
  const nginxRps = median(samples.get(`nginx-${workers}`)!.map((f) => f.rps));
  console.log('\ntarget                    req/s   p50 ms   p99 ms   CPU µs/req   per process µs/req        errors   vs gatehouse-1   vs nginx');
  for (const target of targets) {
    const s = samples.get(target.name)!;
    const rps = median(s.map((f) => f.rps));
    const perProcess = s[0]!.perProcess.map((_, i) => median(s.map((f) => f.perProcess[i] ?? 0)));
    console.log(
      `${target.name.padEnd(22)} ${rps.toFixed(0).padStart(8)}   ${median(s.map((f) => f.p50)).toFixed(2).padStart(6)}   ${median(s.map((f) => f.p99)).toFixed(2).padStart(6)}   ${median(s.map((f) => f.cpu)).toFixed(0).padStart(10)}   ${perProcess.map((c) => c.toFixed(0)).join(' + ').padEnd(24)} ${String(s.reduce((a, f) => a + f.errors, 0)).padStart(6)}   ${(rps / single).toFixed(2).padStart(13)}x   ${(rps / nginxRps).toFixed(2).padStart(7)}x`,
    );
  }
  console.log('\n(per process: the primary or master first, then its workers; CPU of wrk and the backend is not counted)');
  process.exit(0);
}

await main();
