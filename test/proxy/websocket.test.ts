// WebSocket through the gateway (SPEC §10, docs/endpoints.md#websocket): a wss backend with a
// certificate made at test time (the `ws` library's server), clients of the `ws` library: echo
// through the route, resources, back-pressure with a slow reader, a reload during an open tunnel,
// SIGTERM closing tunnels after shutdownTimeout, and upgrades that are not WebSocket.
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import WebSocket, { WebSocketServer } from 'ws';
import { rawExchange, request } from '../helpers/client.js';
import { apiConfig, startTestGateway } from '../helpers/gateway.js';
import { createCA, issue } from '../helpers/pki.js';
import type { Issued } from '../helpers/pki.js';
import { parsePrometheus, select } from '../helpers/prometheus.js';
import { until } from '../helpers/wait.js';

const ca = createCA('WebSocket Test CA', { keyIndex: 0 });
const leaf = issue({ cn: 'ws.test', sans: ['127.0.0.1'], issuer: ca, keyIndex: 1 });
const CERTS = { certs: { 'ws-ca.crt': ca.certPem } };

/** A wss echo server; `received` counts the bytes it has read; `pause` stops it reading. */
async function wssBackend(t: Test, certificate: Issued = leaf) {
  const server = https.createServer({ key: certificate.keyPem, cert: certificate.certPem });
  const wss = new WebSocketServer({ server });
  const state = { received: 0, connections: 0, paths: [] as string[], sockets: [] as WebSocket[] };
  wss.on('connection', (socket, req) => {
    state.connections++;
    state.paths.push(req.url ?? '');
    state.sockets.push(socket);
    socket.on('message', (data: Buffer, binary) => {
      state.received += data.length;
      socket.send(data, { binary });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    server.close();
  });
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, state };
}

async function connect(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const socket = new WebSocket(url, { headers });
  await once(socket, 'open');
  return socket;
}

async function echo(socket: WebSocket, text: string): Promise<string> {
  socket.send(text);
  const [data] = (await once(socket, 'message')) as [Buffer];
  return data.toString();
}

t.test('a WebSocket echo through the route, to a wss backend with a private CA', async (t) => {
  const backend = await wssBackend(t);
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}/ws", certificate: ws-ca }`, '    resources: [{ path: /chat, methods: [GET] }]\n'), CERTS);
  const socket = await connect(`${gw.url.replace('http', 'ws')}/api/v1/chat?room=1`, { 'x-request-id': 'ws-1' });
  t.equal(await echo(socket, 'hello'), 'hello');
  t.equal(await echo(socket, 'again'), 'again');
  t.same(backend.state.paths, ['/ws/chat?room=1'], 'routed like any request: base path, rest, query');
  const status = JSON.parse((await request(`${gw.adminUrl}/status`)).text) as { websocketTunnels: number };
  t.equal(status.websocketTunnels, 1, '/status counts the open tunnel');
  t.equal(select(parsePrometheus((await request(`${gw.adminUrl}/metrics`)).text), 'gatehouse_websocket_tunnels')[0]?.value, 1);
  socket.close();
  const line = await gw.logs.request('ws-1');
  t.match(line, { status: 101, path: '/api/v1/chat' }, 'the access line is written when the tunnel closes, status 101');
  t.ok((line.bytesSent as number) > 0 && (line.bytesReceived as number) > 0, 'with the bytes each way');
  await until(() => gw.gateway.inFlight === 0, 'the tunnel to be counted out once closed');

  const refused = await rawExchange(
    gw.gateway.http.port,
    'GET /api/v1/other HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    500,
  );
  t.match(refused, /^HTTP\/1\.1 404 /, 'resources apply to WebSocket handshakes: /other is not listed');
  t.match(refused, /"code":"NO_ROUTE"/);
});

t.test('an untrusted wss backend: the handshake is refused with 502, no tunnel', async (t) => {
  const other = createCA('WebSocket Other CA', { keyIndex: 2 });
  const backend = await wssBackend(t, issue({ cn: 'ws.test', sans: ['127.0.0.1'], issuer: other, keyIndex: 3 }));
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: ws-ca }`), CERTS);
  const socket = new WebSocket(`${gw.url.replace('http', 'ws')}/api/v1/`);
  const [, response] = (await once(socket, 'unexpected-response')) as [unknown, IncomingMessage];
  t.equal(response.statusCode, 502);
  t.equal(backend.state.connections, 0);
});

t.test('back-pressure: a backend that stops reading holds the client back, and nothing is lost', async (t) => {
  const backend = await wssBackend(t);
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: ws-ca }`), CERTS);
  const socket = await connect(`${gw.url.replace('http', 'ws')}/api/v1/`);
  t.equal(await echo(socket, 'ready'), 'ready');
  const backendSocket = (backend.state.sockets[0] as unknown as { _socket: Socket })._socket;
  backendSocket.pause();
  const chunk = Buffer.alloc(64 * 1024, 7);
  const total = 48 * 1024 * 1024;
  for (let sent = 0; sent < total; sent += chunk.length) socket.send(chunk);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  // The gateway reads from the client only as fast as it can write to the backend: what it
  // holds is bounded by the sockets' buffers, the rest waits in the client.
  t.ok(socket.bufferedAmount > 24 * 1024 * 1024, `the client still holds ${(socket.bufferedAmount / 1048576).toFixed(1)} of 48 MiB: the gateway did not take it all`);
  let echoed = 0;
  socket.on('message', (data: Buffer) => (echoed += data.length));
  backendSocket.resume();
  await until(() => echoed === total, 'every byte echoed once the backend reads again', 60_000);
  t.equal(backend.state.received, total + 'ready'.length, 'the backend received every byte');
  t.equal(echoed, total, 'and every byte came back');
  socket.close();
});

t.test('a reload during an open tunnel does not cut it; SIGTERM closes it after shutdownTimeout', async (t) => {
  const backend = await wssBackend(t);
  const yaml = (socket: string) =>
    apiConfig(`{ url: "${backend.url}", certificate: ws-ca, timeouts: { socket: ${socket} } }`, '', 'listen: { http: "127.0.0.1:0", shutdownDelay: 0s, shutdownTimeout: 500ms }\nadmin: { address: "127.0.0.1:0" }\nreload: { interval: 1h }\n');
  const gw = await startTestGateway(t, yaml('60s'), CERTS);
  const socket = await connect(`${gw.url.replace('http', 'ws')}/api/v1/`);
  t.equal(await echo(socket, 'before'), 'before');
  writeFileSync(path.join(gw.dir, 'gateway.yaml'), yaml('61s'));
  const applied = await gw.gateway.reloader.reloadNow('test');
  t.equal(applied.kind, 'applied');
  t.match(applied, { pools: { opened: 1, retired: 1 } }, "the endpoint's pool was replaced");
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(await echo(socket, 'after the reload'), 'after the reload', 'the tunnel outlived its pool');

  const started = Date.now();
  const closed = once(socket, 'close');
  const stopping = gw.gateway.stop();
  await closed;
  const took = Date.now() - started;
  t.ok(took >= 450, `the tunnel was closed after shutdownTimeout (${took} ms)`);
  await stopping;
});

t.test('upgrades other than WebSocket: 501 UPGRADE_NOT_SUPPORTED; h2c is declined by serving HTTP/1.1', async (t) => {
  const backend = await wssBackend(t);
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: ws-ca }`), CERTS);
  const other = await rawExchange(gw.gateway.http.port, 'GET /api/v1/x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: IRC/6.9\r\n\r\n', 500);
  t.match(other, /^HTTP\/1\.1 501 /);
  t.match(other, /"code":"UPGRADE_NOT_SUPPORTED","message":"protocol upgrades to IRC\/6\.9 are not proxied \(WebSocket is\)"/);
  const h2cWithBody = await rawExchange(gw.gateway.http.port, 'POST /api/v1/x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nContent-Length: 2\r\n\r\nhi', 500);
  t.match(h2cWithBody, /^HTTP\/1\.1 501 /);
  t.match(h2cWithBody, /an h2c upgrade offer with a request body is not served/);
});
