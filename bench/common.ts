// What the benchmarks share: a temporary folder removed on exit with the demo backend's
// self-signed certificate in it, child processes that print their port, their CPU time, and the
// median of the rounds.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDemoCertificate } from '../src/demo/backend.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A folder for one run (removed when the process exits), with the backend's certificate and key. */
export function benchWorkspace(prefix: string): { work: string; cert: string; certPath: string; keyPath: string } {
  const work = mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));
  const { cert } = ensureDemoCertificate(path.join(work, 'state'));
  return { work, cert, certPath: path.join(work, 'state', 'demo-backend.crt'), keyPath: path.join(work, 'state', 'demo-backend.key') };
}

/** The median: on a shared machine one disturbed round should not move the result. */
/** A loopback port the kernel just gave out, free for a process started next to take. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function median(list: readonly number[]): number {
  const sorted = [...list].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/**
 * Starts a child whose stdout goes to a file (not through this process, which generates the
 * load), and waits for the line that carries its port.
 */
export async function start(name: string, command: string[], portOf: (line: string) => number | undefined, output: string): Promise<{ port: number; child: ChildProcess }> {
  const fd = openSync(output, 'w');
  const child = spawn(process.execPath, command, { cwd: ROOT, stdio: ['ignore', fd, 'inherit'] });
  closeSync(fd);
  children.push(child);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}) before listening`);
    for (const line of readFileSync(output, 'utf8').split('\n')) {
      const port = portOf(line);
      if (port !== undefined) return { port, child };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${name} did not start within 20 s`);
}

/** User + system CPU time of a process so far, in microseconds (/proc/<pid>/stat, clock ticks of 10 ms). */
export function cpuMicros(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** The port a child prints alone on its first line (the backends and the minimal proxy). */
export const firstLinePort = (line: string): number | undefined => (/^\d+$/.test(line.trim()) ? Number(line.trim()) : undefined);

/**
 * `gatehouse run` (compiled, from dist/) on `work`/gateway.yaml, written here from `apis` (the
 * `apis:` section's items, YAML) after `top` (other sections), with `cert` as
 * certs/backend.crt; its log in `work`/gateway.log.
 * Resolves with its HTTP port and process. `profileDir`: a V8 CPU profile of the gateway written
 * there when it exits (open it in Chrome's DevTools or speedscope). BENCH_GATEWAY_NODE_ARGS: Node
 * flags for the gateway, space-separated (`--single-threaded-gc`, say).
 */
const NODE_ARGS = process.env.BENCH_GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? [];

export function startGateway(work: string, apis: string, cert: string, { profileDir, top = '' }: { profileDir?: string | undefined; top?: string } = {}): Promise<{ port: number; child: ChildProcess }> {
  writeFileSync(path.join(work, 'gateway.yaml'), `version: 1\nlisten: { http: "127.0.0.1:0" }\nadmin: { address: "127.0.0.1:0" }\n${top}apis:\n${apis}`);
  mkdirSync(path.join(work, 'certs'), { recursive: true });
  writeFileSync(path.join(work, 'certs', 'backend.crt'), cert);
  const portOf = (line: string) => (line.includes('gateway listening') ? Number(/"http":"http:\/\/[^"]*:(\d+)"/.exec(line)?.[1]) : undefined);
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir)}`] : [];
  return start('gatehouse', [...profile, ...NODE_ARGS, path.join(ROOT, 'bin', 'gatehouse.js'), 'run', '-c', path.join(work, 'gateway.yaml')], portOf, path.join(work, 'gateway.log'));
}
