// The gateway under test, started in this process on 127.0.0.1:0 from a configuration and
// certificates written to a real temporary folder, with its log lines captured in memory.
import { once } from 'node:events';
import path from 'node:path';
import pino from 'pino';
import type { Test } from 'tap';
import { startGateway } from '../../src/gateway.js';
import type { Gateway } from '../../src/gateway.js';
import type { ReloadOutcome } from '../../src/reload/reloader.js';
import { formatText } from '../../src/diagnostics.js';
import { REDACTED_PATHS } from '../../src/log.js';
import type { Fixture } from './workspace.js';

export type LogLine = Record<string, unknown> & { msg: string; level: number };

/** pino's destination: every line parsed as it is written; waitFor() for lines yet to come. */
export class LogCapture {
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  #waiters: (() => void)[] = [];

  write(chunk: string): void {
    for (const text of chunk.split('\n')) {
      if (!text) continue;
      this.raw.push(text);
      this.lines.push(JSON.parse(text) as LogLine);
    }
    this.#waiters.splice(0).forEach((wake) => wake());
  }

  /** Reads a child's stdout: whole lines only (a chunk may end mid-line; the rest waits for the next). */
  follow(stream: NodeJS.ReadableStream): this {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      const end = buffered.lastIndexOf('\n');
      if (end === -1) return;
      this.write(buffered.slice(0, end + 1));
      buffered = buffered.slice(end + 1);
    });
    return this;
  }

  find(predicate: (line: LogLine) => boolean): LogLine | undefined {
    return this.lines.find(predicate);
  }

  /** The first line that satisfies `predicate`, waiting up to `timeoutMs` for it. */
  async waitFor(predicate: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.find(predicate);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no log line matched within ${timeoutMs} ms; lines:\n${this.raw.join('\n')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The access log line of a request. */
  request(requestId: string): Promise<LogLine> {
    return this.waitFor((l) => l.msg === 'request' && l.requestId === requestId);
  }
}

export interface TestGateway {
  readonly gateway: Gateway;
  readonly url: string;
  readonly httpsUrl: string | undefined;
  /** http://127.0.0.1:<admin port> */
  readonly adminUrl: string;
  readonly logs: LogCapture;
  readonly dir: string;
}

/** `config` is YAML; `listen.http` defaults to 127.0.0.1:0 when the text does not set `listen:`. */
export async function startTestGateway(
  t: Test,
  config: string,
  files: Fixture = {},
  options: { env?: Record<string, string>; expiryCheckIntervalMs?: number } = {},
): Promise<TestGateway> {
  const text = /^listen:/m.test(config) ? config : config.replace(/^version: 1\n/m, 'version: 1\nlisten: { http: "127.0.0.1:0" }\nadmin: { address: "127.0.0.1:0" }\n');
  const dir = t.testdir({ 'gateway.yaml': text, certs: {}, ...files });
  const logs = new LogCapture();
  const logger = pino({ level: 'debug', redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, logs);
  const started = await startGateway({
    configPath: path.join(dir, 'gateway.yaml'),
    env: options.env ?? {},
    logger,
    ...(options.expiryCheckIntervalMs !== undefined ? { expiryCheckIntervalMs: options.expiryCheckIntervalMs } : {}),
  });
  if (!started.gateway) throw new Error(`the test configuration has errors:\n${formatText(started.diagnostics, dir)}`);
  const { gateway } = started;
  t.teardown(() => gateway.stop());
  return {
    gateway,
    url: `http://127.0.0.1:${gateway.http.port}`,
    httpsUrl: gateway.https ? `https://127.0.0.1:${gateway.https.port}` : undefined,
    adminUrl: `http://127.0.0.1:${gateway.admin.port}`,
    logs,
    dir,
  };
}

/** One API at /api version v1 whose production endpoint is `endpoint` (a YAML flow map). */
export function apiConfig(endpoint: string, apiExtra = '', top = ''): string {
  return `version: 1
${top}apis:
  - name: Test
    context: /api
    version: v1
${apiExtra}    endpoints:
      production: ${endpoint}
`;
}

type ReloadKind = 'applied' | 'rejected' | 'unchanged';

/** The next reload outcome of that kind, or a failure after `timeoutMs` (never sleep-and-hope). */
export async function nextReload<K extends ReloadKind>(gateway: Gateway, kind: K, timeoutMs = 10_000): Promise<Extract<ReloadOutcome, { kind: K }>> {
  const [outcome] = (await once(gateway.reloader, kind, { signal: AbortSignal.timeout(timeoutMs) })) as [Extract<ReloadOutcome, { kind: K }>];
  return outcome;
}
