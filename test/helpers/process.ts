// The gateway as a user runs it: `gatehouse run` in a child process, its JSON log lines read from
// stdout, its memory read from /proc.
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { BIN } from './cli.js';
import { LogCapture } from './gateway.js';

/** A loopback port the kernel just gave out, free for a process started next to take. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface GatewayProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly logs: LogCapture;
  readonly stderr: () => string;
  /** http://127.0.0.1:port of the HTTP listener. */
  readonly url: string;
  readonly httpsUrl: string | undefined;
  /** http://127.0.0.1:port of the admin address. */
  readonly adminUrl: string;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
}

/** Who the child runs as (spawn's uid and gid): see UNPRIVILEGED. */
export interface SpawnOptions {
  readonly uid?: number;
  readonly gid?: number;
  /** Variables besides PATH (GATEHOUSE_CONFIG, say). */
  readonly env?: Readonly<Record<string, string>>;
  /** The gatehouse.js to run: an installed package's, instead of this checkout's. */
  readonly bin?: string;
  /** A command that runs the rest (unshare, setpriv…): the gateway is then its last exec. */
  readonly prefix?: readonly string[];
  /** The working folder; the test's folder by default. */
  readonly cwd?: string;
}

export async function spawnGateway(t: Test, dir: string, args: readonly string[] = [], nodeArgs: readonly string[] = [], options: SpawnOptions = {}): Promise<GatewayProcess> {
  const { env, bin = BIN, prefix = [], cwd = dir, ...identity } = options;
  const command = [...prefix, process.execPath, ...nodeArgs, bin, 'run', ...args];
  const child = spawn(command[0]!, command.slice(1), { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'pipe', ...identity });
  const logs = new LogCapture().follow(child.stdout);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const listening = await Promise.race([
    logs.waitFor((l) => l.msg === 'gateway listening', 20_000),
    exited.then((code) => {
      throw new Error(`gatehouse run exited with ${code} before listening:\n${stderr}`);
    }),
  ]);
  const local = (u: unknown) => (typeof u === 'string' ? u.replace('0.0.0.0', '127.0.0.1') : undefined);
  return { child, logs, stderr: () => stderr, url: local(listening.http)!, httpsUrl: local(listening.https), adminUrl: local(listening.admin)!, exited };
}

/**
 * The user a gateway runs as in tests of permissions: chmod 000 stops nobody running as root, as
 * the tests do here and in CI, so then the gateway runs as nobody (65534). Undefined when the
 * tests already run unprivileged: the gateway can run in the test's process.
 */
export const UNPRIVILEGED: SpawnOptions | undefined = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;

/** A temporary folder with `files` (relative path → text) that UNPRIVILEGED can read; removed after the test. */
export function readableWorkspace(t: Test, files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(dir, name);
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    writeFileSync(file, text, { mode: 0o644 });
  }
  return dir;
}

/** Peak resident memory of a process so far (VmHWM), in bytes; Linux only. */
export function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  if (kb === undefined) throw new Error('no VmHWM in /proc/<pid>/status');
  return Number(kb) * 1024;
}

/** Current resident memory (VmRSS), in bytes. */
export function currentRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/**
 * Node flags for spawnGateway, for tests that measure the child's memory: SIGUSR2 then runs a
 * full garbage collection in it, so that what is measured next is what is still referenced.
 */
export const GC_ON_SIGNAL = ['--expose-gc', `--import=data:text/javascript,${encodeURIComponent("process.on('SIGUSR2', () => globalThis.gc?.())")}`];
