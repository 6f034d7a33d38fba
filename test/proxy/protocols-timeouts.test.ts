// TLS versions and ciphers per endpoint, connect and socket timeouts, and unreachable backends:
// each failure gets its code, within its bound.
import net from 'node:net';
import t from 'tap';
import { closedPort, startBackend, startSilentServer } from '../helpers/backend.js';
import { json, request } from '../helpers/client.js';
import type { Response } from '../helpers/client.js';
import { apiConfig, startTestGateway } from '../helpers/gateway.js';
import { issue } from '../helpers/pki.js';

const cert = issue({ cn: 'proto.test', sans: ['127.0.0.1'], keyIndex: 1 });
const certs = { certs: { 'b.crt': cert.certPem } };
const code = (res: Response) => json<{ error: { code: string; message: string } }>(res).error.code;

t.test('a TLSv1.3-only backend and an endpoint limited to TLSv1.2: 502 BACKEND_TLS_PROTOCOL', async (t) => {
  const backend = await startBackend(t, { certificate: cert, tls: { minVersion: 'TLSv1.3' } });
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: b, tls: { protocols: [TLSv1.2] } }`), certs);
  const res = await request(`${gw.url}/api/v1/`, { headers: { 'x-request-id': 'proto-1' } });
  t.equal(res.status, 502);
  t.equal(code(res), 'BACKEND_TLS_PROTOCOL');
  const line = await gw.logs.request('proto-1');
  t.match(line, { code: 'BACKEND_TLS_PROTOCOL', error: { code: /^ERR_SSL_/ }, protocols: ['TLSv1.2'] });
});

t.test('the same backend with TLSv1.3 allowed: 200', async (t) => {
  const backend = await startBackend(t, { certificate: cert, tls: { minVersion: 'TLSv1.3' } });
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: b, tls: { protocols: [TLSv1.2, TLSv1.3] } }`), certs);
  t.equal((await request(`${gw.url}/api/v1/`)).status, 200);
});

t.test('a legacy TLSv1.1 backend works when the endpoint allows it (security level lowered for it only)', async (t) => {
  const backend = await startBackend(t, { certificate: cert, tls: { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' } });
  const legacy = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: b, tls: { protocols: [TLSv1.1, TLSv1.2] } }`), certs);
  t.equal((await request(`${legacy.url}/api/v1/`)).status, 200, 'TLSv1.1 allowed');
  t.ok(legacy.logs.find((l) => l.msg.includes('TLS_LEGACY_PROTOCOL')), 'and warned about at start');

  const modern = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: b }`), certs);
  const res = await request(`${modern.url}/api/v1/`);
  t.equal(res.status, 502, 'the default range refuses it');
  t.equal(code(res), 'BACKEND_TLS_PROTOCOL');
});

t.test('no cipher in common: 502 BACKEND_TLS_PROTOCOL', async (t) => {
  const backend = await startBackend(t, { certificate: cert, tls: { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' } });
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: b, tls: { protocols: [TLSv1.2], ciphers: "ECDHE-RSA-AES128-GCM-SHA256" } }`), certs);
  const res = await request(`${gw.url}/api/v1/`);
  t.equal(res.status, 502);
  t.equal(code(res), 'BACKEND_TLS_PROTOCOL');
});

t.test('an https:// URL on a plain-HTTP backend: 502 BACKEND_TLS_PROTOCOL', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, apiConfig(`{ url: "https://127.0.0.1:${backend.port}" }`));
  const res = await request(`${gw.url}/api/v1/`);
  t.equal(res.status, 502);
  t.equal(code(res), 'BACKEND_TLS_PROTOCOL');
});

t.test('connect timeout: a TLS handshake that never completes answers 504 after timeouts.connect', async (t) => {
  const silent = await startSilentServer(t);
  const gw = await startTestGateway(t, apiConfig(`{ url: "https://127.0.0.1:${silent.port}", certificate: b, timeouts: { connect: 300ms, socket: 20s } }`), certs);
  const started = Date.now();
  const res = await request(`${gw.url}/api/v1/`, { headers: { 'x-request-id': 'connect-timeout' } });
  const elapsed = Date.now() - started;
  t.equal(res.status, 504);
  t.equal(code(res), 'BACKEND_TIMEOUT');
  t.ok(elapsed >= 250 && elapsed < 10_000, `answered after the connect timeout, long before the socket timeout (${elapsed} ms)`);
  t.equal(silent.connections(), 1, 'the TCP connection was made; the handshake is what timed out');
  t.match(await gw.logs.request('connect-timeout'), {
    error: { code: 'UND_ERR_CONNECT_TIMEOUT' },
    timeout: { setting: 'timeouts.connect', ms: 300 },
    hint: /^no connection and TLS handshake within timeouts\.connect \(300ms\) at 127\.0\.0\.1:\d+: /,
  });
});

t.test('socket timeout: a backend silent after the request answers 504 after timeouts.socket', async (t) => {
  const backend = await startBackend(t, { certificate: cert, handler: () => undefined });
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: b, timeouts: { connect: 200ms, socket: 400ms } }`), certs);
  const started = Date.now();
  const res = await request(`${gw.url}/api/v1/`, { headers: { 'x-request-id': 'socket-timeout' } });
  const elapsed = Date.now() - started;
  t.equal(res.status, 504);
  t.equal(code(res), 'BACKEND_TIMEOUT');
  t.ok(elapsed >= 350 && elapsed < 10_000, `after about the socket timeout (${elapsed} ms)`);
  t.equal(backend.requests.length, 1, 'the backend did receive the request');
  // The WSO2 FAQ's first question: which timeout, and how long it is.
  t.match(await gw.logs.request('socket-timeout'), {
    error: { code: 'UND_ERR_HEADERS_TIMEOUT' },
    timeout: { setting: 'timeouts.socket', ms: 400 },
    hint: /^127\.0\.0\.1:\d+ sent no response headers within timeouts\.socket \(400ms\): the backend is slow or stuck; if it is slow by design, raise timeouts\.socket for this endpoint or API \(WSO2's http\.socket\.timeout\)$/,
  });
});

t.test('socket timeout between body chunks: the client connection is aborted, not ended cleanly', async (t) => {
  const backend = await startBackend(t, {
    certificate: cert,
    handler: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
      res.write('first half of the body');
    },
  });
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: b, timeouts: { connect: 200ms, socket: 400ms } }`), certs);
  const outcome = await new Promise<string>((resolve) => {
    const socket = net.connect(gw.gateway.http.port, '127.0.0.1', () => socket.write('GET /api/v1/ HTTP/1.1\r\nHost: gw\r\nX-Request-Id: body-timeout\r\n\r\n'));
    let received = '';
    socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(received));
  });
  t.match(outcome, /^HTTP\/1\.1 200 OK\r\n/, 'the headers were forwarded');
  t.match(outcome, /content-length: 100\r\n/i);
  t.match(outcome, /first half of the body$/, 'then the connection closed short of the announced length');
  t.match(await gw.logs.request('body-timeout'), {
    code: 'BACKEND_TIMEOUT',
    error: { code: 'UND_ERR_BODY_TIMEOUT' },
    timeout: { setting: 'timeouts.socket', ms: 400 },
    hint: /sent nothing more of its response body within timeouts\.socket \(400ms\)/,
  });
});

t.test('a port nothing listens on: 502 BACKEND_UNREACHABLE', async (t) => {
  const port = await closedPort();
  const gw = await startTestGateway(t, apiConfig(`{ url: "https://127.0.0.1:${port}", certificate: b }`), certs);
  const res = await request(`${gw.url}/api/v1/`, { headers: { 'x-request-id': 'refused' } });
  t.equal(res.status, 502);
  t.same(json(res), {
    error: { code: 'BACKEND_UNREACHABLE', message: 'API "Test" version v1, production endpoint: the backend is unreachable', requestId: 'refused' },
  });
  t.match(await gw.logs.request('refused'), { error: { code: 'ECONNREFUSED' }, backend: `https://127.0.0.1:${port}`, hint: /^nothing accepted a connection at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/ });
});

t.test('a host name that does not resolve: 502 BACKEND_UNREACHABLE', async (t) => {
  const gw = await startTestGateway(t, apiConfig('{ url: "http://nonexistent.invalid:8080" }'));
  const res = await request(`${gw.url}/api/v1/`);
  t.equal(res.status, 502);
  t.equal(code(res), 'BACKEND_UNREACHABLE');
});

t.test('a backend that answers with something other than HTTP: 502 BACKEND_INVALID_RESPONSE', async (t) => {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.end('SSH-2.0-OpenSSH_9.2\r\nnot http at all\r\n\r\n'));
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.teardown(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const gw = await startTestGateway(t, apiConfig(`{ url: "http://127.0.0.1:${port}" }`));
  const res = await request(`${gw.url}/api/v1/`, { headers: { 'x-request-id': 'garbage' } });
  t.equal(res.status, 502);
  t.equal(code(res), 'BACKEND_INVALID_RESPONSE');
  t.match(await gw.logs.request('garbage'), {
    error: { name: 'HTTPParserError', message: /does not match the HTTP\/1\.1 protocol/ },
    hint: /^127\.0\.0\.1:\d+ answered with something that is not HTTP\/1\.1(?: \(HPE_\w+\))?: check the URL's scheme and port/,
  });
});
