// The reload benchmark: the cost of building and swapping a snapshot of 1,000 APIs with 1,000
// certificates, and what requests see while reloads happen under load.
//
//   npm run bench:reload [-- --apis 1000 --reloads 20 --duration 10 --workers 2 --in-process --profile DIR]
//
// 1. In this process: load (read, parse, validate, compile 1,000 certificate files) and open the
//    first snapshot (1,000 new pools); then reloads that each change one API in the file, and
//    reloads that each replace one certificate file, timed end to end (the same Reloader the
//    gateway runs, from reading the files to the swap), with heap and RSS.
// 2. `gatehouse run` in a child process (`--workers N` for N worker processes) under autocannon
//    load on one API, first without reloads, then with a reload every 500 ms (SIGHUP after a
//    one-API edit or a certificate drop, in turn): latency and failed requests side by side, and
//    the reload durations the gateway logged.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StringDecoder } from 'node:string_decoder';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import forge from 'node-forge';
import pino from 'pino';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config/load.js';
import { Reloader } from '../src/reload/reloader.js';
import { SnapshotHolder } from '../src/snapshot/holder.js';
import { openSnapshot, retireSnapshot } from '../src/snapshot/snapshot.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    apis: { type: 'string', default: '1000' },
    reloads: { type: 'string', default: '20' },
    duration: { type: 'string', default: '10' },
    // Part 1 only: no child gateway under load.
    'in-process': { type: 'boolean', default: false },
    // Part 2 only: the child gateway's listen.workers (1: a single process).
    workers: { type: 'string', default: '1' },
    // Part 2 only: CPU profiles of the child gateway (and its workers, and threads) into this folder.
    profile: { type: 'string' },
  },
});
const API_COUNT = Number(values.apis);
const RELOADS = Number(values.reloads);
const DURATION = Number(values.duration);
const WORKERS = Number(values.workers);
const MiB = 1024 * 1024;

// ------------------------------------------------------------------ certificates

const rsa = () => forge.pki.privateKeyFromPem(generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey);
const caKey = rsa();
const leafKey = rsa();

function certificate(cn: string, isCA: boolean, sans: string[] = []): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey((isCA ? caKey : leafKey).n, (isCA ? caKey : leafKey).e);
  cert.serialNumber = '01' + randomBytes(8).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer([{ name: 'commonName', value: 'Bench Reload CA' }]);
  cert.setExtensions([{ name: 'basicConstraints', cA: isCA }, ...(sans.length ? [{ name: 'subjectAltName', altNames: sans.map((ip) => ({ type: 7, ip })) }] : [])]);
  cert.sign(caKey, forge.md.sha256.create());
  return cert;
}

/**
 * The certificates of a run: made with node-forge (about 25 ms each) and kept in the system's
 * temporary folder by API count, so that a second run (and one at 5,000 APIs) starts at once.
 */
const CERT_CACHE = path.join(os.tmpdir(), `gatehouse-bench-reload-certs-${API_COUNT}.json`);
interface BenchCertificates {
  readonly files: Record<string, string>;
  readonly rotated: string[];
  readonly backendCert: string;
  readonly backendKey: string;
  readonly cached?: boolean;
}

function makeCertificates(): BenchCertificates {
  try {
    return { ...(JSON.parse(readFileSync(CERT_CACHE, 'utf8')) as BenchCertificates), cached: true };
  } catch {
    // Not made yet.
  }
  const files: Record<string, string> = { 'ca.crt': forge.pki.certificateToPem(certificate('Bench Reload CA', true)) };
  for (let i = 1; i < API_COUNT; i++) files[`cert${i}.crt`] = forge.pki.certificateToPem(certificate(`api${i}.bench`, false, ['127.0.0.1']));
  const made: BenchCertificates = {
    files,
    // Two versions of the last API's certificate, for reloads caused by a certificate alone.
    rotated: [1, 2].map(() => forge.pki.certificateToPem(certificate(`api${API_COUNT - 1}.bench`, false, ['127.0.0.1']))),
    backendCert: forge.pki.certificateToPem(certificate('backend', false, ['127.0.0.1'])),
    backendKey: forge.pki.privateKeyToPem(leafKey),
  };
  writeFileSync(CERT_CACHE, JSON.stringify(made));
  return made;
}

function configText(port: number, variant: number): string {
  const lines = ['version: 1', 'listen: { http: "127.0.0.1:0" }', 'admin: { address: "127.0.0.1:0" }', 'reload: { interval: 10m }', 'apis:'];
  for (let i = 0; i < API_COUNT; i++) {
    // API 0 carries the load; the last API is the one each reload changes.
    const socket = i === API_COUNT - 1 ? `${60 + variant}s` : '60s';
    // Every certificate names 127.0.0.1, as a well-kept configuration's would: no warnings.
    lines.push(`  - { name: Api${i}, context: /api${i}, version: v1, endpoints: { production: { url: "https://127.0.0.1:${port}/svc/${i}", certificate: ${i === 0 ? 'ca' : `cert${i}`}, timeouts: { socket: ${socket} } } } }`);
  }
  return lines.join('\n') + '\n';
}

/** The longest the event loop was held up, sampled every 5 ms; skip() forgets a pause the benchmark itself caused. */
function pauseMonitor() {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last - 5);
    last = now;
  }, 5);
  return {
    skip: () => void (last = performance.now()),
    stop: (): number => (clearInterval(timer), longest),
  };
}

const percentile = (list: number[], p: number) => [...list].sort((a, b) => a - b)[Math.min(list.length - 1, Math.floor((p / 100) * list.length))]!;

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-reload-bench-'));
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));
  mkdirSync(path.join(work, 'certs'));

  let started = performance.now();
  const pki = makeCertificates();
  for (const [name, pem] of Object.entries(pki.files)) writeFileSync(path.join(work, 'certs', name), pem);
  const { rotated, backendCert, backendKey } = pki;
  console.log(`setup: ${API_COUNT} certificates ${pki.cached ? 'reused from' : 'made and kept in'} ${CERT_CACHE} in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const backend = https.createServer({ cert: backendCert, key: backendKey, keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume();
    req.on('end', () => res.end('{"ok":true}'));
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const port = (backend.address() as AddressInfo).port;
  const file = path.join(work, 'gateway.yaml');
  writeFileSync(file, configText(port, 0));

  // ------------------------------------------------------------------ 1. in process
  const rss0 = process.memoryUsage().rss;
  started = performance.now();
  const loaded = await loadConfig(file, { env: {} });
  const loadMs = performance.now() - started;
  if (!loaded.config) throw new Error(loaded.diagnostics.map((d) => d.message).join('\n'));
  started = performance.now();
  const state = new SnapshotHolder(openSnapshot(loaded.config, 1));
  const openMs = performance.now() - started;
  console.log(`boot: load ${loadMs.toFixed(0)} ms (${API_COUNT} APIs, ${loaded.config.inventory.length} certificate files), open ${openMs.toFixed(0)} ms (${state.current.pools.size} pools)`);

  const reloader = new Reloader({
    configPath: file,
    env: {},
    logger: pino({ level: 'silent' }),
    holder: state,
  });
  const durations: number[] = [];
  const memory: number[] = [];
  // The longest the main thread (the one that serves requests) was held up by each kind of reload.
  const pauses: Record<'edit' | 'certificate', number> = { edit: 0, certificate: 0 };
  let stall = pauseMonitor();
  for (let i = 1; i <= RELOADS; i++) {
    if (i === 2) {
      // The first reload runs in a worker thread that has just started: not counted.
      stall.stop();
      stall = pauseMonitor();
    }
    writeFileSync(file, configText(port, i));
    stall.skip(); // writing the file is the benchmark's work
    const outcome = await reloader.reloadNow('bench');
    if (outcome.kind !== 'applied') throw new Error(`reload ${i}: ${outcome.kind}`);
    if (outcome.pools.opened !== 1) throw new Error(`reload ${i} opened ${outcome.pools.opened} pools`);
    durations.push(outcome.durationMs);
    // A forced collection, for comparable RSS figures; not a pause a reload causes.
    global.gc?.();
    stall.skip();
    memory.push(process.memoryUsage().rss);
  }
  pauses.edit = stall.stop();
  stall = pauseMonitor();
  // A certificate replaced, the configuration file unchanged (parsing and validating it is skipped).
  const certDurations: number[] = [];
  for (let i = 1; i <= RELOADS; i++) {
    writeFileSync(path.join(work, 'certs', `cert${API_COUNT - 1}.crt`), rotated[i % 2]!);
    const outcome = await reloader.reloadNow('bench');
    if (outcome.kind !== 'applied') throw new Error(`certificate reload ${i}: ${outcome.kind}`);
    if (outcome.pools.opened !== 1) throw new Error(`certificate reload ${i} opened ${outcome.pools.opened} pools`);
    certDurations.push(outcome.durationMs);
  }
  pauses.certificate = stall.stop();
  await reloader.close();
  const summary = (list: number[]) => `median ${percentile(list, 50).toFixed(0)} ms, p95 ${percentile(list, 95).toFixed(0)} ms, max ${Math.max(...list).toFixed(0)} ms over ${list.length} reloads`;
  // The first reload runs in a worker thread that has just started: its code is not yet optimized.
  console.log(`reload, one API edited in the file (${API_COUNT - 1} pools kept): first ${durations[0]!.toFixed(0)} ms (cold worker), then ${summary(durations.slice(1))}`);
  console.log(`reload, one certificate file replaced (${API_COUNT - 1} pools kept): ${summary(certDurations)}`);
  console.log(`longest pause of the main thread: ${pauses.edit.toFixed(0)} ms during the edits (after the first), ${pauses.certificate.toFixed(0)} ms during the certificate reloads`);
  console.log(`memory: RSS ${(rss0 / MiB).toFixed(0)} MiB before boot, ${(memory[0]! / MiB).toFixed(0)} MiB after the first reload, ${(memory[memory.length - 1]! / MiB).toFixed(0)} MiB after ${RELOADS}; heap ${(process.memoryUsage().heapUsed / MiB).toFixed(0)} MiB`);
  await retireSnapshot(state.current, undefined, 0);
  if (values['in-process']) process.exit(0);

  // ------------------------------------------------------------------ 2. under load, in a child
  writeFileSync(file, configText(port, 0));
  const output = path.join(work, 'gateway.log');
  const fd = openSync(output, 'w');
  const child = spawn(process.execPath, [...(values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : []), path.join(ROOT, 'bin', 'gatehouse.js'), 'run', '-c', file, '--workers', String(WORKERS)], { stdio: ['ignore', fd, 'inherit'] });
  closeSync(fd);
  process.on('exit', () => child.kill('SIGKILL'));
  let gatewayPort: number | undefined;
  while (gatewayPort === undefined) {
    await new Promise((r) => setTimeout(r, 100));
    gatewayPort = Number(/"http":"http:\/\/[^"]*:(\d+)"/.exec(readFileSync(output, 'utf8'))?.[1]) || undefined;
  }
  const url = `http://127.0.0.1:${gatewayPort}/api0/v1/items`;
  const run = (seconds: number) => autocannon({ url, connections: 32, duration: seconds });
  await run(3);
  const quiet = await run(DURATION);
  interface Applied {
    readonly durationMs: number;
    readonly stepsMs: Record<'loaded' | 'opened' | 'prepared' | 'swapped', number>;
    readonly changes: { readonly certificates: { readonly changed: readonly string[] } };
  }
  // The gateway's output holds an access line per request (tens of MB): read only what is new.
  const applied: Applied[] = [];
  let offset = 0;
  let partial = '';
  const decoder = new StringDecoder('utf8');
  const appliedSoFar = (): Applied[] => {
    const fd = openSync(output, 'r');
    const chunk = Buffer.alloc(1 << 20);
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, offset)) > 0; offset += n) {
      const lines = (partial + decoder.write(chunk.subarray(0, n))).split('\n');
      partial = lines.pop()!;
      for (const l of lines) if (l.includes('"configuration applied"')) applied.push(JSON.parse(l) as Applied);
    }
    closeSync(fd);
    return applied;
  };
  let variant = 0;
  let rotation = 0;
  /** One API edited in the file, or one certificate file replaced; then SIGHUP. */
  const change = (kind: 'edit' | 'certificate') => {
    if (kind === 'edit') writeFileSync(file, configText(port, ++variant));
    else writeFileSync(path.join(work, 'certs', `cert${API_COUNT - 1}.crt`), rotated[++rotation % 2]!);
    child.kill('SIGHUP');
  };
  // Every 0.5 s a reload: an edit and a certificate drop in turn.
  const timer = setInterval(() => change(variant <= rotation ? 'edit' : 'certificate'), 500);
  const busy = await run(DURATION);
  clearInterval(timer);
  await new Promise((r) => setTimeout(r, 1_500));
  const underLoad = [...appliedSoFar()].slice(1); // the first ran in a worker thread that had just started
  const byKind = (list: readonly Applied[], certificate: boolean) => list.filter((a) => a.changes.certificates.changed.length > 0 === certificate).map((a) => a.durationMs);
  // Then reloads with no load, one at a time: what a reload itself costs (with workers: the
  // preparation by every worker and the swap), not what it waits for behind requests.
  const idle: Applied[] = [];
  for (let i = 0; i < 2 * Math.min(RELOADS, 10); i++) {
    const before = appliedSoFar().length;
    change(i % 2 ? 'certificate' : 'edit');
    while (appliedSoFar().length === before) await new Promise((r) => setTimeout(r, 20));
    idle.push(applied[applied.length - 1]!);
  }
  // Peak RSS of the gateway: the process, and with workers each worker process beside it.
  const pids = [child.pid!, ...readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)];
  const peakMiB = pids.map((pid) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024);
  // Let it drain and exit (and write its profiles) before this process exits and kills it.
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);

  const line = (name: string, r: autocannon.Result) =>
    `${name.padEnd(16)} ${r.requests.average.toFixed(0).padStart(6)} req/s   p50 ${String(r.latency.p50).padStart(3)} ms   p99 ${String(r.latency.p99).padStart(4)} ms   max ${String(r.latency.max).padStart(5)} ms   errors ${r.errors + r.timeouts}   non-2xx ${r.non2xx}`;
  const failed = (r: autocannon.Result) => r.errors + r.timeouts + r.non2xx;
  console.log(`\nunder load (${WORKERS === 1 ? 'one process' : `${WORKERS} workers`}, 32 connections on one API of ${API_COUNT}, ${DURATION} s each):`);
  console.log(line('no reloads', quiet));
  console.log(line('reload every 0.5s', busy));
  console.log(`failed requests: ${failed(quiet)} of ${quiet.requests.total} without reloads, ${failed(busy)} of ${busy.requests.total} with reloads`);
  const timing = (list: number[]) => (list.length ? `median ${percentile(list, 50).toFixed(0)} ms, max ${Math.max(...list).toFixed(0)} ms` : 'none');
  console.log(`reloads applied during the load (after the first): ${byKind(underLoad, false).length} one-API edits, ${timing(byKind(underLoad, false))}; ${byKind(underLoad, true).length} certificate drops, ${timing(byKind(underLoad, true))}`);
  console.log(`reloads applied one at a time with no load: ${byKind(idle, false).length} one-API edits, ${timing(byKind(idle, false))}; ${byKind(idle, true).length} certificate drops, ${timing(byKind(idle, true))}`);
  const steps = (list: readonly Applied[]) =>
    (['loaded', 'opened', 'prepared', 'swapped'] as const).map((step) => `${step} ${percentile(list.map((a) => a.stepsMs[step]), 50).toFixed(0)}`).join(', ');
  console.log(`  median time at the end of each step (ms from the start): edits ${steps(idle.filter((a) => a.changes.certificates.changed.length === 0))}; certificate drops ${steps(idle.filter((a) => a.changes.certificates.changed.length > 0))}`);
  console.log(`gateway peak RSS: ${peakMiB.map((m) => m.toFixed(0)).join(' + ')} MiB${pids.length > 1 ? ' (primary + workers)' : ''}`);
  backend.close();
  process.exit(0);
}

await main();
