// The WebSocket benchmark: echo messages per second through the gateway vs straight to the backend.
//
//   npm run bench:websocket [-- --duration 8 --rounds 5 --connections 16 --window 32 --size 128 --profile DIR]
//
//   direct    the client straight to a wss echo backend (bench/ws-backend.ts), verifying its
//             self-signed certificate
//   minimal   bench/minimal-tunnel.ts: a TCP server that pipes each connection into a verified TLS
//             connection to the backend, nothing else: the floor of a Node proxy of WebSockets
//   gatehouse the client to `gatehouse run` (compiled) over ws://, the gateway to the same backend
//             over wss://, trusting its certificate by alias (docs/endpoints.md, WebSocket)
//
// Each connection keeps `window` messages of `size` bytes in flight: it sends one more for every
// echo it receives, so the figure is what the path sustains, not one round trip after another.
// Messages are counted when their echo arrives. Each target is measured `rounds` times,
// interleaved, on connections opened before the run; the table shows the median. CPU: user +
// system time of the gateway process per echoed message. The client, the gateway and the backend
// share the machine's cores: read the ratio more than the absolute figures.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { benchWorkspace, cpuMicros, firstLinePort, median, start, startGateway } from './common.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '16' },
    window: { type: 'string', default: '32' },
    size: { type: 'string', default: '128' },
    // A V8 CPU profile of the gateway, written to this folder when the benchmark ends.
    profile: { type: 'string' },
  },
});
const duration = Number(values.duration);
const rounds = Number(values.rounds);
const connections = Number(values.connections);
const windowSize = Number(values.window);
const size = Number(values.size);

/** Opens `connections` sockets to `url` and resolves once all are open. */
async function openSockets(url: string, ca: Buffer): Promise<WebSocket[]> {
  return Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const socket = new WebSocket(url, { ca, rejectUnauthorized: true, perMessageDeflate: false });
          socket.once('open', () => resolve(socket));
          socket.once('error', reject);
          socket.once('unexpected-response', (_req, res) => reject(new Error(`${url}: ${res.statusCode}`)));
        }),
    ),
  );
}

/** Echoes for `seconds` over the sockets, `windowSize` messages in flight on each: messages per second. */
async function echo(sockets: WebSocket[], seconds: number): Promise<{ messages: number; perSecond: number; errors: number }> {
  const payload = Buffer.alloc(size, 'g');
  let messages = 0;
  let errors = 0;
  let running = true;
  const started = performance.now();
  await Promise.all([
    ...sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          let inFlight = 0;
          const onMessage = (data: Buffer) => {
            inFlight--;
            if (data.length !== size) errors++;
            else messages++;
            if (running) {
              inFlight++;
              socket.send(payload);
            } else if (inFlight === 0) done();
          };
          const onError = () => {
            errors++;
            done();
          };
          const done = () => {
            socket.off('message', onMessage);
            socket.off('error', onError);
            resolve();
          };
          socket.on('message', onMessage);
          socket.on('error', onError);
          for (; inFlight < windowSize; inFlight++) socket.send(payload);
        }),
    ),
    new Promise<void>((resolve) =>
      setTimeout(() => {
        running = false;
        resolve();
      }, seconds * 1000),
    ),
  ]);
  const elapsed = (performance.now() - started) / 1000;
  return { messages, perSecond: messages / elapsed, errors };
}

async function main(): Promise<void> {
  const { work, cert, certPath, keyPath } = benchWorkspace('gatehouse-bench-ws-');
  const ca = Buffer.from(cert);
  const backend = await start('ws backend', ['--import', 'tsx', 'bench/ws-backend.ts', certPath, keyPath], firstLinePort, path.join(work, 'backend.out'));
  const gateway = await startGateway(work, `  - { name: Echo, context: /echo, version: v1, endpoints: { production: { url: "https://127.0.0.1:${backend.port}", certificate: backend } } }\n`, cert, { profileDir: values.profile });
  const minimal = await start('minimal tunnel', ['--import', 'tsx', 'bench/minimal-tunnel.ts', String(backend.port), certPath], firstLinePort, path.join(work, 'minimal.out'));

  const targets = [
    { name: 'direct', url: `wss://127.0.0.1:${backend.port}/`, pid: undefined },
    { name: 'minimal', url: `ws://127.0.0.1:${minimal.port}/`, pid: minimal.child.pid },
    { name: 'gatehouse', url: `ws://127.0.0.1:${gateway.port}/echo/v1/`, pid: gateway.child.pid },
  ];
  console.log(
    `node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), ${connections} connections x ${windowSize} messages of ${size} bytes in flight, ${duration} s x ${rounds} rounds`,
  );
  // Warm-up: the JIT of all three processes.
  for (const target of targets) {
    const sockets = await openSockets(target.url, ca);
    await echo(sockets, 2);
    sockets.forEach((s) => s.terminate());
  }

  // Two layouts of the three processes on the cores. `pinned` (with two cores or more and
  // taskset): the client and the backend share core 0, the gateway has core 1, as when the load
  // comes from other machines: does the gateway keep up? `shared`: all three on every core, the
  // gateway's CPU taken from the client and the backend: what it costs a machine that is full.
  const pinnable = os.cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;
  const pin = (pid: number | undefined, cpus: string) => spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
  const all = `0-${os.cpus().length - 1}`;
  const layouts = [
    ...(pinnable
      ? [
          {
            name: 'pinned',
            apply: () => {
              [process.pid, backend.child.pid].forEach((pid) => pin(pid, '0'));
              [gateway.child.pid, minimal.child.pid].forEach((pid) => pin(pid, '1'));
            },
          },
        ]
      : []),
    { name: 'shared', apply: () => [process.pid, backend.child.pid, gateway.child.pid, minimal.child.pid].forEach((pid) => pin(pid, all)) },
  ];

  let errors = 0;
  const results: string[] = [];
  for (const layout of layouts) {
    if (pinnable) layout.apply();
    console.log(`\n${layout.name}:`);
    const samples = new Map<string, { perSecond: number; cpu: number }[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const target of targets.map((_, i) => targets[(i + round) % targets.length]!)) {
        const sockets = await openSockets(target.url, ca);
        const cpuBefore = target.pid ? cpuMicros(target.pid) : 0;
        const figures = await echo(sockets, duration);
        const cpu = target.pid ? (cpuMicros(target.pid) - cpuBefore) / Math.max(1, figures.messages) : 0;
        sockets.forEach((s) => s.close());
        errors += figures.errors;
        samples.get(target.name)!.push({ perSecond: figures.perSecond, cpu });
        console.log(
          `  round ${round + 1} ${target.name.padEnd(9)} ${figures.perSecond.toFixed(0).padStart(7)} messages/s${target.pid ? `  proxy CPU ${cpu.toFixed(1)} µs/message` : ''}  errors ${figures.errors}`,
        );
      }
    }
    const figure = (name: string) => ({ perSecond: median(samples.get(name)!.map((s) => s.perSecond)), cpu: median(samples.get(name)!.map((s) => s.cpu)) });
    const direct = figure('direct').perSecond;
    for (const name of ['minimal', 'gatehouse']) {
      const { perSecond, cpu } = figure(name);
      results.push(`${layout.name.padEnd(8)} ${name.padEnd(10)} ${perSecond.toFixed(0).padStart(10)}   ${(perSecond / direct).toFixed(2).padStart(9)}x   ${cpu.toFixed(1).padStart(20)}`);
    }
    results.push(`${layout.name.padEnd(8)} ${'direct'.padEnd(10)} ${direct.toFixed(0).padStart(10)}   ${(1).toFixed(2).padStart(9)}x`);
  }
  console.log('\nlayout   target       messages/s   vs direct   proxy CPU µs/message');
  for (const line of results) console.log(line);
  console.log(`\nerrors: ${errors}`);
  if (values.profile) {
    // SIGINT: the gateway stops as on SIGTERM, and V8 writes the profile as the process exits.
    gateway.child.kill('SIGINT');
    await new Promise((resolve) => gateway.child.once('exit', resolve));
  }
  process.exit(errors > 0 ? 1 : 0);
}

await main();
