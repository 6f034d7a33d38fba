// A minimal Language Server Protocol client over stdio, to drive the real YAML language server
// the way an editor does (initialize, open a document, read the published diagnostics).
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface LspDiagnostic {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  message: string;
  severity?: number;
}

interface Message {
  id?: number;
  method?: string;
  params?: unknown;
  result?: unknown;
}

const SERVER = fileURLToPath(new URL('../../node_modules/yaml-language-server/bin/yaml-language-server', import.meta.url));

export class LspClient {
  readonly #child: ChildProcessWithoutNullStreams;
  #buffer = Buffer.alloc(0);
  #nextId = 1;
  readonly #pending = new Map<number, (result: unknown) => void>();
  readonly #diagnostics = new Map<string, LspDiagnostic[][]>();
  readonly #waiters: (() => void)[] = [];

  constructor(readonly settings: Record<string, unknown>) {
    this.#child = spawn(process.execPath, [SERVER, '--stdio'], { stdio: 'pipe' });
    this.#child.stdout.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#child.stderr.resume();
  }

  async start(rootUri: string): Promise<void> {
    await this.request('initialize', {
      processId: process.pid,
      rootUri,
      capabilities: { workspace: { configuration: true }, textDocument: { publishDiagnostics: {} } },
    });
    this.notify('initialized', {});
    this.notify('workspace/didChangeConfiguration', { settings: this.settings });
  }

  open(uri: string, text: string): void {
    this.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'yaml', version: 1, text } });
  }

  /** The first published diagnostics for `uri` that satisfy `accept`, within `timeoutMs`. */
  async diagnostics(uri: string, accept: (d: LspDiagnostic[]) => boolean, timeoutMs = 20_000): Promise<LspDiagnostic[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = (this.#diagnostics.get(uri) ?? []).find(accept);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching diagnostics for ${uri}: got ${JSON.stringify(this.#diagnostics.get(uri))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  request(method: string, params: unknown): Promise<unknown> {
    const id = this.#nextId++;
    this.#send({ jsonrpc: '2.0', id, method, params });
    return new Promise((resolve) => this.#pending.set(id, resolve));
  }

  notify(method: string, params: unknown): void {
    this.#send({ jsonrpc: '2.0', method, params });
  }

  stop(): void {
    this.#child.kill();
  }

  #send(message: object): void {
    const body = Buffer.from(JSON.stringify(message));
    this.#child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.#child.stdin.write(body);
  }

  #onData(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const headerEnd = this.#buffer.indexOf('\r\n\r\n');
      if (headerEnd === -1) return;
      const length = Number(/Content-Length: (\d+)/i.exec(this.#buffer.subarray(0, headerEnd).toString())?.[1]);
      if (this.#buffer.length < headerEnd + 4 + length) return;
      const message = JSON.parse(this.#buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString()) as Message;
      this.#buffer = this.#buffer.subarray(headerEnd + 4 + length);
      this.#handle(message);
    }
  }

  #handle(message: Message): void {
    if (message.method && message.id !== undefined) {
      // A request from the server: settings for workspace/configuration, null for the rest.
      const items = (message.params as { items?: { section?: string }[] } | undefined)?.items;
      const result = message.method === 'workspace/configuration' ? (items ?? []).map((i) => this.settings[i.section ?? ''] ?? null) : null;
      this.#send({ jsonrpc: '2.0', id: message.id, result });
    } else if (message.method === 'textDocument/publishDiagnostics') {
      const { uri, diagnostics } = message.params as { uri: string; diagnostics: LspDiagnostic[] };
      this.#diagnostics.set(uri, [...(this.#diagnostics.get(uri) ?? []), diagnostics]);
      this.#waiters.splice(0).forEach((wake) => wake());
    } else if (message.id !== undefined) {
      this.#pending.get(message.id)?.(message.result);
      this.#pending.delete(message.id);
    }
  }
}
