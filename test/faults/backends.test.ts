// Failing backends (docs/http.md), as raw TCP servers that misbehave on purpose: a reset before the
// response, a reset in the middle of the body, bytes that are not HTTP, a keep-alive connection
// closed just as the next request arrives, a 5xx, a stall. The client must always see either a
// true answer, a clear error, or a broken connection; never a clean-looking truncated response.
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { request } from '../helpers/client.js';
import { startTestGateway } from '../helpers/gateway.js';
import { until } from '../helpers/wait.js';

/** A TCP backend: `onRequest(socket, index)` is called with each connection's first bytes. */
async function rawBackend(t: Test, onData: (socket: net.Socket, data: string, connection: number) => void) {
  let connections = 0;
  let requests = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (data: Buffer) => {
      const text = data.toString('latin1');
      requests += text.match(/^[A-Z]+ \/\S* HTTP\/1\.1\r\n/gm)?.length ?? 0;
      onData(socket, text, connection);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections, requests: () => requests };
}

const config = (url: string, socket = '30s', connect = '2s') => `version: 1
apis:
  - { name: Api, context: /api, version: v1, endpoints: { production: { url: "${url}", timeouts: { connect: ${connect}, socket: ${socket} } } } }
`;
const code = (text: string) => (JSON.parse(text) as { error?: { code?: string } }).error?.code;
const OK = (body: string, extra = '') => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nContent-Type: text/plain\r\n${extra}\r\n${body}`;

/** A response read to its end, or the error that broke it. */
function fetchRaw(url: string): Promise<{ status: number; body: string; complete: boolean; error?: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, complete: res.complete }));
      res.on('error', (error) => resolve({ status: res.statusCode ?? 0, body, complete: false, error: error.message }));
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, body, complete: false, error: 'aborted' }));
    });
    req.on('error', (error) => resolve({ status: 0, body: '', complete: false, error: error.message }));
  });
}

t.test('a connection reset before the response: 502 BACKEND_UNREACHABLE (a GET is tried twice, a POST once)', async (t) => {
  const backend = await rawBackend(t, (socket) => socket.resetAndDestroy());
  const gw = await startTestGateway(t, config(backend.url));
  const get = await request(`${gw.url}/api/v1/x`, { headers: { 'x-request-id': 'reset-get' } });
  t.equal(get.status, 502);
  t.equal(code(get.text), 'BACKEND_UNREACHABLE');
  t.equal(backend.requests(), 2, 'the GET was retried once on a new connection, then failed');
  const post = await request(`${gw.url}/api/v1/x`, { method: 'POST', body: 'payload', headers: { 'x-request-id': 'reset-post' } });
  t.equal(post.status, 502);
  t.equal(backend.requests(), 3, 'a POST is never sent twice');
  const line = await gw.logs.request('reset-get');
  t.equal(line.code, 'BACKEND_UNREACHABLE');
});

t.test('a reset in the middle of the body: the client connection is broken, never a clean short response', async (t) => {
  const backend = await rawBackend(t, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n' + 'a'.repeat(5000));
    setTimeout(() => socket.resetAndDestroy(), 50);
  });
  const gw = await startTestGateway(t, config(backend.url));
  const fixedLength = await fetchRaw(`${gw.url}/api/v1/x`);
  t.equal(fixedLength.status, 200, 'the headers had been sent');
  t.notOk(fixedLength.complete, 'the client sees an incomplete response');
  t.ok(fixedLength.error, `and an error (${String(fixedLength.error)})`);
  t.ok(fixedLength.body.length < 100000, 'short of the announced length');

  const chunked = await rawBackend(t, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n' + 'b'.repeat(4096) + '\r\n');
    setTimeout(() => socket.resetAndDestroy(), 50);
  });
  const gw2 = await startTestGateway(t, config(chunked.url));
  const streamed = await fetchRaw(`${gw2.url}/api/v1/x`);
  t.notOk(streamed.complete, 'chunked: no terminating chunk is invented');
  t.ok(streamed.error, `chunked: the client connection is broken (${String(streamed.error)})`);
});

t.test('bytes that are not HTTP: 502 BACKEND_INVALID_RESPONSE', async (t) => {
  const answers = ['SSH-2.0-OpenSSH_9.6\r\n', 'HTTP/1.1 abc Nope\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello', 'HTTP/1.1 200 OK\r\nBad Header\r\n\r\n'];
  for (const answer of answers) {
    const backend = await rawBackend(t, (socket) => socket.end(answer));
    const gw = await startTestGateway(t, config(backend.url));
    const res = await request(`${gw.url}/api/v1/x`);
    t.equal(res.status, 502, `${JSON.stringify(answer.slice(0, 30))}: 502`);
    t.equal(code(res.text), 'BACKEND_INVALID_RESPONSE');
  }
});

t.test('a keep-alive connection the backend closes as the next request arrives: an idempotent request is retried once; a POST is not', async (t) => {
  // Each connection answers its first request and then, when the next request arrives on it,
  // closes without a word: what a backend with a short keep-alive timeout does at the wrong moment.
  // A POST is refused the same way on any connection: whatever connection it lands on, it must
  // reach the backend exactly once.
  const served = new Map<number, number>();
  const backend = await rawBackend(t, (socket, data, connection) => {
    const count = (served.get(connection) ?? 0) + 1;
    served.set(connection, count);
    if (count === 1 && !data.startsWith('POST')) socket.write(OK(`conn ${connection}`));
    else socket.destroy();
  });
  const gw = await startTestGateway(t, config(backend.url));
  t.equal((await request(`${gw.url}/api/v1/a`)).text, 'conn 1');
  const retried = await request(`${gw.url}/api/v1/b`, { headers: { 'x-request-id': 'stale-get' } });
  t.equal(retried.status, 200, 'the GET on the stale connection succeeded');
  t.equal(retried.text, 'conn 2', 'on a new connection');
  t.equal((await gw.logs.request('stale-get')).retriedAfter, 'UND_ERR_SOCKET', 'the access line says it was retried');

  const before = backend.requests();
  const post = await request(`${gw.url}/api/v1/c`, { method: 'POST', body: 'once' });
  t.equal(post.status, 502, 'a POST whose connection closes is not replayed');
  t.equal(code(post.text), 'BACKEND_UNREACHABLE');
  t.equal(backend.requests() - before, 1, 'the backend saw it once');
  const del = await request(`${gw.url}/api/v1/d`, { method: 'DELETE' });
  t.equal(del.status, 200, 'DELETE without a body is idempotent: retried');
});

t.test('a stale connection whose pool a reload closed meanwhile: the retry goes to the pool served now', async (t) => {
  // The second request of connection 1 is held until the test lets it fail; meanwhile a reload
  // gives the endpoint a new pool and retires the old one (closed to new requests).
  let fail: (() => void) | undefined;
  const backend = await rawBackend(t, (socket, data, connection) => {
    if (connection === 1 && data.includes('GET /held ')) {
      fail = () => socket.destroy();
      return;
    }
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nconn ${connection}`);
  });
  const reloadable = (socket: string) => config(backend.url, socket).replace('version: 1\n', 'version: 1\nlisten: { http: "127.0.0.1:0" }\nadmin: { address: "127.0.0.1:0" }\nreload: { interval: 1h }\n');
  const gw = await startTestGateway(t, reloadable('30s'));
  t.equal((await request(`${gw.url}/api/v1/warm`)).text, 'conn 1');
  const oldPool = gw.gateway.holder.current.apis[0]!.production.targets[0]!.pool!;
  const held = request(`${gw.url}/api/v1/held`, { headers: { 'x-request-id': 'stale-after-reload' } });
  await until(() => fail !== undefined, 'the backend to hold the request');
  writeFileSync(path.join(gw.dir, 'gateway.yaml'), reloadable('31s'));
  t.equal((await gw.gateway.reloader.reloadNow('test')).kind, 'applied');
  t.equal(oldPool.closed, true, 'the request started on a pool that is closed now');
  fail!();
  const res = await held;
  t.equal(res.status, 200, 'retried, not 502');
  t.equal(res.text, 'conn 2', 'on a new connection of the new pool');
  t.equal((await gw.logs.request('stale-after-reload')).retriedAfter, 'UND_ERR_SOCKET');
});

t.test('a 5xx from the backend is passed through untouched', async (t) => {
  const body = '{"fault":"database down"}';
  const backend = await rawBackend(t, (socket) => socket.write(`HTTP/1.1 503 Service Unavailable\r\nContent-Length: ${body.length}\r\nRetry-After: 30\r\nX-Backend: yes\r\n\r\n${body}`));
  const gw = await startTestGateway(t, config(backend.url));
  const res = await request(`${gw.url}/api/v1/x`);
  t.equal(res.status, 503);
  t.equal(res.text, body, 'the body as sent');
  t.equal(res.headers['retry-after'], '30');
  t.equal(res.headers['x-backend'], 'yes');
  t.equal(backend.requests(), 1, 'not retried: the backend answered');
});

t.test('a backend that stalls: 504 BACKEND_TIMEOUT at the socket timeout, before or during the body', async (t) => {
  const silent = await rawBackend(t, () => undefined);
  const gw = await startTestGateway(t, config(silent.url, '400ms', '300ms'));
  const started = Date.now();
  const res = await request(`${gw.url}/api/v1/x`);
  t.equal(res.status, 504);
  t.equal(code(res.text), 'BACKEND_TIMEOUT');
  t.ok(Date.now() - started < 10_000, `answered after ${Date.now() - started} ms`);

  const stallsMidBody = await rawBackend(t, (socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n' + 'x'.repeat(10)));
  const gw2 = await startTestGateway(t, config(stallsMidBody.url, '400ms', '300ms'));
  const partial = await fetchRaw(`${gw2.url}/api/v1/x`);
  t.equal(partial.status, 200);
  t.notOk(partial.complete, 'a body that stalls past the socket timeout breaks the client connection');
  t.equal(partial.body.length, 10);
});
