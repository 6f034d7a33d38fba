// Hostile clients (docs/http.md), on raw TCP sockets against a real gateway and a recording backend:
// request smuggling, slowloris, idle keep-alive, header limits, path tricks, X-Forwarded-For,
// protocol upgrades and body limits. For every refusal, the backend must have received nothing.
import { once } from 'node:events';
import net from 'node:net';
import t from 'tap';
import { startBackend } from '../helpers/backend.js';
import type { Echo } from '../helpers/backend.js';
import { json, rawExchange, request } from '../helpers/client.js';
import { startTestGateway } from '../helpers/gateway.js';

const config = (backend: string, listenExtra = '', apiExtra = '') => `version: 1
listen: { http: "127.0.0.1:0"${listenExtra} }
admin: { address: "127.0.0.1:0" }
apis:
  - name: Api
    context: /api
    version: v1
${apiExtra}    endpoints: { production: { url: "${backend}/base" } }
  - name: Other
    context: /other
    version: v1
    endpoints: { production: { url: "${backend}/other" } }
`;
const statusOf = (raw: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
const codeOf = (raw: string) => (/"code":"([A-Z_]+)"/.exec(raw) ?? [])[1];

t.test('request smuggling: ambiguous framing is refused with 400 and never forwarded', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(backend.url));
  const attacks: [string, string][] = [
    ['Content-Length with Transfer-Encoding (CL.TE)', 'POST /api/v1/x HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG'],
    ['two different Content-Lengths', 'POST /api/v1/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc'],
    ['Transfer-Encoding not ending in chunked', 'POST /api/v1/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n'],
    ['obfuscated Transfer-Encoding', 'POST /api/v1/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'],
    ['obsolete line folding', 'GET /api/v1/x HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n'],
    ['a NUL in a header value', 'GET /api/v1/x HTTP/1.1\r\nHost: a\r\nX-Bad: a\u0000b\r\n\r\n'],
    ['a space in a header name', 'GET /api/v1/x HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n'],
    ['a bare LF line ending inside headers', 'GET /api/v1/x HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n'],
    ['an invalid chunk size', 'POST /api/v1/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'],
  ];
  for (const [name, payload] of attacks) {
    const answer = await rawExchange(gw.gateway.http.port, payload, 500);
    t.equal(statusOf(answer), 400, `${name}: 400`);
  }
  t.equal(backend.requests.length, 0, 'the backend received none of them');

  // A good request, then garbage on the same kept-alive connection.
  const socket = net.connect(gw.gateway.http.port, '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  socket.write('GET /api/v1/ok HTTP/1.1\r\nHost: a\r\n\r\n');
  while (!received.includes('"sha256"')) await once(socket, 'data', { signal: AbortSignal.timeout(5_000) });
  socket.write('GARBAGE / HTTP/1.1\r\n\u0001\r\n\r\n');
  await once(socket, 'close', { signal: AbortSignal.timeout(5_000) });
  t.match(received, /^HTTP\/1\.1 200 [\s\S]*HTTP\/1\.1 400 /, 'the good request is answered, then the garbage gets 400 and the connection closes');
  t.equal(backend.requests.length, 1, 'only the good request reached the backend');
  t.equal((await request(`${gw.url}/api/v1/after`)).status, 200, 'the gateway keeps serving');
});

t.test('slowloris: a client dripping its headers is cut off at listen.headersTimeout; others are served', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(backend.url, ', headersTimeout: 1s'));
  const socket = net.connect(gw.gateway.http.port, '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  socket.on('error', () => undefined);
  const started = Date.now();
  socket.write('GET /api/v1/slow HTTP/1.1\r\nHost: a\r\n');
  const drip = setInterval(() => socket.write(`X-Drip-${Date.now()}: x\r\n`), 200);
  const served = await request(`${gw.url}/api/v1/meanwhile`);
  t.equal(served.status, 200, 'another client is served while the slow one drips');
  await once(socket, 'close', { signal: AbortSignal.timeout(10_000) });
  clearInterval(drip);
  const took = Date.now() - started;
  t.ok(took >= 900 && took < 10_000, `closed after ${took} ms (headersTimeout 1 s, checked every second)`);
  t.match(received, /^HTTP\/1\.1 408/, 'with 408 Request Timeout');
  t.equal(backend.requests.filter((r) => r.url.includes('slow')).length, 0, 'the slow request never reached the backend');
});

t.test('idle keep-alive connections are closed after listen.idleTimeout', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(backend.url, ', idleTimeout: 300ms'));
  const socket = net.connect(gw.gateway.http.port, '127.0.0.1');
  await once(socket, 'connect');
  socket.on('error', () => undefined);
  socket.write('GET /api/v1/once HTTP/1.1\r\nHost: a\r\n\r\n');
  await once(socket, 'data');
  const answered = Date.now();
  await once(socket, 'close', { signal: AbortSignal.timeout(5_000) });
  const idle = Date.now() - answered;
  t.ok(idle >= 250 && idle < 10_000, `the idle connection closed ${idle} ms after its response`);
});

t.test('header limits: more than 100 fields → 431 REQUEST_HEADERS_TOO_LARGE; more than 16 KiB → 431', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(backend.url));
  const many = Array.from({ length: 101 }, (_, i) => `X-H${i}: v\r\n`).join('');
  const tooMany = await rawExchange(gw.gateway.http.port, `GET /api/v1/x HTTP/1.1\r\nHost: a\r\n${many}\r\n`, 500);
  t.equal(statusOf(tooMany), 431);
  t.equal(codeOf(tooMany), 'REQUEST_HEADERS_TOO_LARGE');
  const big = await rawExchange(gw.gateway.http.port, `GET /api/v1/x HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`, 500);
  t.equal(statusOf(big), 431);
  const justUnder = Array.from({ length: 98 }, (_, i) => `X-H${i}: v\r\n`).join('');
  t.equal(statusOf(await rawExchange(gw.gateway.http.port, `GET /api/v1/x HTTP/1.1\r\nHost: a\r\n${justUnder}\r\n`, 500)), 200, '99 fields pass');
  t.equal(backend.requests.length, 1, 'only the request within limits reached the backend');
});

t.test('paths are normalized before routing; ambiguous encodings are refused', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(backend.url, '', '    resources: [{ path: "/public/*", methods: [GET] }]\n'));
  const send = async (path: string) => rawExchange(gw.gateway.http.port, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`, 500);

  const merged = await send('//api//v1//public//a');
  t.equal(statusOf(merged), 200, 'runs of slashes are merged');
  t.equal(backend.requests.at(-1)?.url, '/base/public/a', 'and the backend gets the normalized path');

  const dots = await send('/api/v1/public/./b/../c');
  t.equal(statusOf(dots), 200);
  t.equal(backend.requests.at(-1)?.url, '/base/public/c');

  const before = backend.requests.length;
  const escapes: [string, number, string][] = [
    ['/api/v1/public/../private', 404, 'NO_ROUTE'], // resolves to /api/v1/private: not in resources
    ['/api/v1/public/%2e%2e/private', 400, 'INVALID_PATH'],
    ['/api/v1/public/%2E%2E%2Fprivate', 400, 'INVALID_PATH'],
    ['/api/v1/public/a%2Fb', 400, 'INVALID_PATH'],
    ['/api/v1/public/a%5c..%5cprivate', 400, 'INVALID_PATH'],
    ['/api/v1/public/a\\..\\private', 400, 'INVALID_PATH'],
    ['/api/v1/public/%00', 400, 'INVALID_PATH'],
    ['/api/v1/public/%zz', 400, 'INVALID_PATH'],
    ['/api/../../../etc/passwd', 400, 'INVALID_PATH'],
    // Tomcat and Spring strip ;parameters from each segment, then resolve "..".
    ['/api/v1/public/..;/private', 400, 'INVALID_PATH'],
    ['/api/v1/public/..;jsessionid=x/private', 400, 'INVALID_PATH'],
    ['/api/v1/public/.;x/b', 400, 'INVALID_PATH'],
    ['/api/v1/public/..%3B/private', 400, 'INVALID_PATH'],
  ];
  for (const [path, status, code] of escapes) {
    const answer = await send(path);
    t.equal(statusOf(answer), status, `${path}: ${status}`);
    t.equal(codeOf(answer), code, `${path}: ${code}`);
  }
  t.equal(backend.requests.length, before, 'none of them reached the backend');

  // Out of one API into another is routing, not escaping: the resolved path is routed as such.
  const across = await send('/api/v1/../../other/v1/x');
  t.equal(statusOf(across), 200);
  t.equal(backend.requests.at(-1)?.url, '/other/x', "routed to the API the path resolves to, with that API's rules");
  t.equal(statusOf(await send('/api/v1/public/caf%C3%A9%20menu')), 200, 'ordinary escapes pass');
  t.equal(backend.requests.at(-1)?.url, '/base/public/caf%C3%A9%20menu', 'unchanged');
});

t.test('X-Forwarded-For: appended to; believed only from listen.trustedProxies', async (t) => {
  const backend = await startBackend(t);
  const open = await startTestGateway(t, config(backend.url));
  const spoofed = json<Echo>(await request(`${open.url}/api/v1/who`, { headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', 'x-request-id': 'xff-open' } }));
  t.equal(spoofed.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1', 'appended to');
  t.equal(spoofed.headers['x-forwarded-proto'], 'http', "an untrusted client's X-Forwarded-Proto is replaced");
  t.equal(spoofed.headers['x-forwarded-host'], `127.0.0.1:${open.gateway.http.port}`, 'and its X-Forwarded-Host');
  t.equal((await open.logs.request('xff-open')).client, '127.0.0.1', 'the log names the peer, not the claimed address');

  const behindProxy = await startTestGateway(t, config(backend.url, ', trustedProxies: ["127.0.0.0/8", "10.0.0.0/8"]'));
  const viaProxy = json<Echo>(
    await request(`${behindProxy.url}/api/v1/who`, { headers: { 'x-forwarded-for': '198.51.100.7, 10.1.1.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example', 'x-request-id': 'xff-trusted' } }),
  );
  t.equal(viaProxy.headers['x-forwarded-for'], '198.51.100.7, 10.1.1.1, 127.0.0.1', 'still appended to');
  t.equal(viaProxy.headers['x-forwarded-proto'], 'https', "a trusted proxy's X-Forwarded-Proto is passed on");
  t.equal(viaProxy.headers['x-forwarded-host'], 'shop.example');
  t.equal((await behindProxy.logs.request('xff-trusted')).client, '198.51.100.7', 'the client: the rightmost address that is not a trusted proxy');
  await request(`${behindProxy.url}/api/v1/who`, { headers: { 'x-forwarded-for': 'not-an-ip, 10.1.1.1', 'x-request-id': 'xff-garbage' } });
  t.equal((await behindProxy.logs.request('xff-garbage')).client, '10.1.1.1', 'garbage in the chain: nothing beyond it is believed');
});

t.test('protocol upgrades: other than WebSocket refused with 501 UPGRADE_NOT_SUPPORTED; an h2c offer is ignored', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(backend.url));
  // WebSocket itself is proxied: test/proxy/websocket.test.ts.
  const ws = await rawExchange(gw.gateway.http.port, 'GET /api/v1/socket HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: IRC/6.9\r\n\r\n', 500);
  t.equal(statusOf(ws), 501);
  t.equal(codeOf(ws), 'UPGRADE_NOT_SUPPORTED');
  t.match(ws, /connection: close/i);
  t.equal(backend.requests.length, 0, 'never forwarded as a plain request');
  const h2c = await rawExchange(gw.gateway.http.port, 'GET /api/v1/h2c HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n', 500);
  t.equal(statusOf(h2c), 200, 'served over HTTP/1.1');
  t.notOk(backend.requests[0]?.headers.upgrade, 'without the Upgrade header');

  // Without "upgrade" in Connection, Upgrade asks for nothing (RFC 9110 §7.8): a hop-by-hop
  // header like the others, removed, and the request proxied.
  const lone = await rawExchange(gw.gateway.http.port, 'GET /api/v1/lone HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nUpgrade: websocket\r\n\r\n', 500);
  t.equal(statusOf(lone), 200, 'a lone Upgrade header is proxied as a plain request');
  t.equal(backend.requests.at(-1)?.url, '/base/lone');
  t.notOk(backend.requests.at(-1)?.headers.upgrade, 'without the Upgrade header');
});

t.test('two Host headers: 400 INVALID_HOST, never sent to a backend, with or without preserveHost', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(backend.url, '', '    headers: { preserveHost: true }\n'));
  for (const path of ['/api/v1/x', '/other/v1/x']) {
    const answer = await rawExchange(gw.gateway.http.port, `GET ${path} HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n`, 500);
    t.equal(statusOf(answer), 400, `${path}: 400`);
    t.equal(codeOf(answer), 'INVALID_HOST');
    t.match(answer, /connection: close/i);
  }
  t.equal(backend.requests.length, 0, 'the backend received neither');
  const one = await rawExchange(gw.gateway.http.port, 'GET /api/v1/one HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n', 500);
  t.equal(statusOf(one), 200, 'one Host header is served');
  t.equal(backend.requests[0]?.headers.host, 'a.example', 'and preserved');
});

t.test('maxBodySize: 413 PAYLOAD_TOO_LARGE by Content-Length at once, or as a chunked body passes the limit', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(backend.url, '', '    maxBodySize: 1k\n'));
  const declared = await rawExchange(gw.gateway.http.port, `POST /api/v1/up HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n${'x'.repeat(100)}`, 500);
  t.equal(statusOf(declared), 413);
  t.equal(codeOf(declared), 'PAYLOAD_TOO_LARGE');
  t.match(declared, /connection: close/i, 'and the connection closes (the rest of the body is not read)');
  t.equal(backend.requests.length, 0, 'the backend never saw it');

  const chunk = (data: string) => `${data.length.toString(16)}\r\n${data}\r\n`;
  const chunked = await rawExchange(
    gw.gateway.http.port,
    `POST /api/v1/up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${chunk('y'.repeat(800))}${chunk('y'.repeat(800))}0\r\n\r\n`,
    1_000,
  );
  t.equal(statusOf(chunked), 413, 'a chunked body that passes the limit');
  t.equal(codeOf(chunked), 'PAYLOAD_TOO_LARGE');
  t.notOk(backend.requests.some((r) => r.body.length > 1024), 'no body over the limit reached the backend whole');

  const small = json<Echo>(await request(`${gw.url}/api/v1/up`, { method: 'POST', body: 'z'.repeat(1024) }));
  t.equal(small.bodyLength, 1024, 'a body at the limit passes');
  const other = json<Echo>(await request(`${gw.url}/other/v1/up`, { method: 'POST', body: 'z'.repeat(5000) }));
  t.equal(other.bodyLength, 5000, 'an API without maxBodySize has no limit');
});
