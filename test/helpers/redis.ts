// A real redis-server for the tests of the Redis rate-limit store: on a free loopback port, in a
// folder of its own, without persistence; stopped and started again on the same port (a Redis that
// goes away and returns), or frozen (a Redis that stops answering without closing connections).
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { freePort } from './process.js';

/** The redis-server on PATH, or undefined. */
export const REDIS_SERVER: string | undefined = (() => {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
})();

/** The `skip` of a test that needs redis-server: false, or why it skips. */
export const NO_REDIS: false | string = REDIS_SERVER ? false : 'redis-server not installed: apt-get install redis-server';

export class RedisServer {
  #child: ChildProcess | undefined;
  #output = '';

  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly args: readonly string[],
  ) {}

  /** redis://127.0.0.1:port */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts a server on a free port; `args` are more of its options (`--requirepass`, say). Stop it with kill(). */
  static async create(args: readonly string[] = []): Promise<RedisServer> {
    if (!REDIS_SERVER) throw new Error(NO_REDIS as string);
    // Another process may take the free port before the server binds it: then another port.
    for (let attempt = 1; ; attempt++) {
      const server = new RedisServer(await freePort(), mkdtempSync(path.join(os.tmpdir(), 'gatehouse-redis-')), args);
      try {
        await server.start();
        return server;
      } catch (error) {
        await server.kill();
        if (attempt === 3) throw error;
      }
    }
  }

  /** Starts the server (again) on its port, and resolves once it answers PING. */
  async start(): Promise<void> {
    if (this.#child) throw new Error('redis-server is running already');
    const child = spawn(REDIS_SERVER!, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    this.#output = '';
    const keep = (chunk: Buffer): void => void (this.#output = (this.#output + chunk.toString()).slice(-4_000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) => {
        if (this.#child === child) this.#child = undefined;
        reject(new Error(`redis-server exited (${signal ?? code}) before answering:\n${this.#output}`));
      }),
    );
    exited.catch(() => undefined);
    await Promise.race([answersPing(this.port, 10_000), exited]);
  }

  /** SIGTERM, and resolves once it has exited: every connection to it is closed. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    this.#child = undefined;
  }

  /** SIGSTOP: connections stay open, nothing answers. */
  freeze(): void {
    this.#child?.kill('SIGSTOP');
  }

  /** SIGCONT after freeze(). */
  thaw(): void {
    this.#child?.kill('SIGCONT');
  }

  /** Kills the server (frozen or not) and removes its folder. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      this.#child = undefined;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A redis-server killed when `t` ends; `t` should skip with NO_REDIS. */
export async function startRedis(t: Test, args: readonly string[] = []): Promise<RedisServer> {
  const server = await RedisServer.create(args);
  t.teardown(() => server.kill());
  return server;
}

/** Sends `command` (inline form) on a connection of its own and resolves with the first reply line. */
export function redisCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.slice(0, reply.indexOf('\r\n')));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`no reply to ${command}`)));
  });
}

async function answersPing(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      // -NOAUTH also means it answers (a server started with --requirepass).
      const reply = await redisCommand(port, 'PING');
      if (reply === '+PONG' || reply.startsWith('-NOAUTH')) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

