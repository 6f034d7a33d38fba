// A plain node:http client for talking to the gateway under test, plus raw sockets for what a
// well-behaved client would never send.
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';

export interface Response {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** As received: repeated fields (two WWW-Authenticate) stay apart. */
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  readonly text: string;
}

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Record<string, string | string[]>;
  readonly body?: string | Buffer;
  /** An agent that does not keep connections alive, unless given. */
  readonly agent?: http.Agent | false;
}

export async function request(url: string, options: RequestOptions = {}): Promise<Response> {
  const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false });
  req.end(options.body);
  const [res] = (await once(req, 'response')) as [http.IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  return { status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body, text: body.toString('utf8') };
}

/** JSON body of a response, typed by the caller. */
export function json<T>(response: Response): T {
  return JSON.parse(response.text) as T;
}

/** Sends raw bytes and collects everything the server sends back until it closes or `idleMs` passes. */
export async function rawExchange(port: number, payload: string | Buffer, idleMs = 1_000): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(payload);
  const chunks: Buffer[] = [];
  socket.setTimeout(idleMs, () => socket.end());
  socket.on('data', (c: Buffer) => chunks.push(c));
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('latin1');
}
