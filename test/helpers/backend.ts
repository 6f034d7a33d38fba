// Real backends on 127.0.0.1:0 for the proxy tests: HTTPS with a given certificate (or plain
// HTTP), recording each request it receives and answering with an echo, or with a handler.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { Test } from 'tap';
import type { Issued } from './pki.js';

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly body: Buffer;
  readonly servername?: string;
}

export interface Backend {
  /** TLS handshakes accepted so far (new connections from a pool). */
  readonly handshakes: () => number;
  readonly port: number;
  /** https://127.0.0.1:port or http://127.0.0.1:port */
  readonly url: string;
  readonly requests: RecordedRequest[];
  readonly server: http.Server;
}

export interface BackendOptions {
  readonly certificate?: Issued;
  readonly tls?: SecureContextOptions & { minVersion?: string; maxVersion?: string };
  /** Answers instead of the echo; the request body has been read into `recorded.body`. */
  readonly handler?: (req: http.IncomingMessage, res: http.ServerResponse, recorded: RecordedRequest) => void;
  /** Do not read the body first: the handler gets the request as it streams. */
  readonly streaming?: (req: http.IncomingMessage, res: http.ServerResponse) => void;
}

/** The echo: what the backend received, as JSON. */
export interface Echo {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  bodyLength: number;
  sha256: string;
}

export async function startBackend(t: Test, options: BackendOptions = {}): Promise<Backend> {
  const requests: RecordedRequest[] = [];
  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (options.streaming) return options.streaming(req, res);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks),
        ...((req.socket as { servername?: string }).servername ? { servername: (req.socket as { servername?: string }).servername } : {}),
      };
      requests.push(recorded);
      if (options.handler) return options.handler(req, res, recorded);
      const echo: Echo = {
        method: recorded.method,
        url: recorded.url,
        headers: recorded.headers,
        rawHeaders: recorded.rawHeaders,
        bodyLength: recorded.body.length,
        sha256: createHash('sha256').update(recorded.body).digest('hex'),
      };
      const body = JSON.stringify(echo);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  };
  const server = options.certificate
    ? https.createServer({ cert: options.certificate.certPem, key: options.certificate.keyPem, ...options.tls } as https.ServerOptions, listener)
    : http.createServer(listener);
  let handshakes = 0;
  server.on('secureConnection', () => handshakes++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  return { handshakes: () => handshakes, port, url: `${options.certificate ? 'https' : 'http'}://127.0.0.1:${port}`, requests, server };
}

/** A TCP server that accepts connections and never says a word (a TLS handshake that never completes). */
export async function startSilentServer(t: Test): Promise<{ port: number; connections: () => number }> {
  const sockets = new Set<net.Socket>();
  let count = 0;
  const server = net.createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, connections: () => count };
}

/** A port that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
