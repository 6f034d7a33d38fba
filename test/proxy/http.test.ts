// HTTP behaviour (docs/http.md): hop-by-hop headers, forwarded headers, Host, Authorization, request
// ids, SOAP byte for byte, chunked bodies both ways, pipelined requests, backend errors passed
// through, and a backend failing after the response started.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import t from 'tap';
import { startBackend } from '../helpers/backend.js';
import type { Echo } from '../helpers/backend.js';
import { json, rawExchange, request } from '../helpers/client.js';
import { apiConfig, startTestGateway } from '../helpers/gateway.js';

t.test('hop-by-hop headers are removed both ways, including those named in Connection', async (t) => {
  const backend = await startBackend(t, {
    handler: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', connection: 'x-backend-private', 'x-backend-private': 'secret', 'keep-alive': 'timeout=9', 'x-kept': 'yes' });
      res.end('ok');
    },
  });
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}" }`));
  const reply = await rawExchange(
    gw.gateway.http.port,
    'GET /api/v1/ HTTP/1.1\r\nHost: gw.example\r\nConnection: close, X-Hop\r\nX-Hop: drop me\r\nKeep-Alive: 5\r\nTE: trailers\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nX-End-To-End: keep me\r\n\r\n',
  );
  const received = backend.requests[0]!.headers;
  t.equal(received['x-hop'], undefined, 'a header named in Connection');
  t.equal(received['proxy-authorization'], undefined);
  t.equal(received.te, undefined);
  t.equal(received['keep-alive'], undefined);
  t.equal(received['x-end-to-end'], 'keep me');
  t.ok(backend.requests[0]!.rawHeaders.includes('X-End-To-End'), "the client's header name case is kept");
  t.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
  t.notMatch(reply, /x-backend-private/i, 'a response header named in the backend\'s Connection');
  t.notMatch(reply, /keep-alive: timeout=9/i);
  t.match(reply, /x-kept: yes\r\n/);
});

t.test('X-Forwarded-For is appended to, -Proto and -Host are set; Host is the backend\'s', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}/base" }`));
  const res = await request(`${gw.url}/api/v1/x`, { headers: { host: 'public.example', 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'spoofed', 'x-forwarded-host': 'spoofed' } });
  const echo = json<Echo>(res);
  t.equal(echo.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
  t.equal(echo.headers['x-forwarded-proto'], 'http');
  t.equal(echo.headers['x-forwarded-host'], 'public.example');
  t.equal(echo.headers.host, `127.0.0.1:${backend.port}`);
});

t.test('preserveHost, forwarded: false and removeAuthorization', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", headers: { preserveHost: true, forwarded: false, removeAuthorization: true } }`));
  const res = await request(`${gw.url}/api/v1/x`, { headers: { host: 'public.example', authorization: 'Bearer abc', 'x-forwarded-for': '203.0.113.7' } });
  const echo = json<Echo>(res);
  t.equal(echo.headers.host, 'public.example');
  t.equal(echo.headers.authorization, undefined);
  t.equal(echo.headers['x-forwarded-for'], '203.0.113.7', 'passed on untouched');
  t.equal(echo.headers['x-forwarded-proto'], undefined);

  const keeps = await startTestGateway(t, apiConfig(`{ url: "${backend.url}" }`));
  const kept = json<Echo>(await request(`${keeps.url}/api/v1/x`, { headers: { authorization: 'Bearer abc' } }));
  t.equal(kept.headers.authorization, 'Bearer abc', 'kept by default');
});

t.test('X-Request-Id: kept from the client, else generated; sent to the backend and returned', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}" }`));
  const kept = await request(`${gw.url}/api/v1/`, { headers: { 'x-request-id': 'client-id-42' } });
  t.equal(kept.headers['x-request-id'], 'client-id-42');
  t.equal(json<Echo>(kept).headers['x-request-id'], 'client-id-42');
  const generated = await request(`${gw.url}/api/v1/`);
  t.match(generated.headers['x-request-id'], /^[0-9a-f-]{36}$/);
  t.equal(json<Echo>(generated).headers['x-request-id'], generated.headers['x-request-id']);
  for (const unfit of ['has spaces in it', 'quote"d', 'back\\slash', 'x'.repeat(201)]) {
    const replaced = await request(`${gw.url}/api/v1/`, { headers: { 'x-request-id': unfit } });
    t.match(replaced.headers['x-request-id'], /^[0-9a-f-]{36}$/, `an id that does not fit a log line is replaced: ${unfit.slice(0, 20)}`);
  }
  const error = await request(`${gw.url}/nowhere`, { headers: { 'x-request-id': 'on-errors-too' } });
  t.equal(error.headers['x-request-id'], 'on-errors-too');
  t.equal(json<{ error: { requestId: string } }>(error).error.requestId, 'on-errors-too');
  t.match(await gw.logs.request('client-id-42'), { method: 'GET', path: '/api/v1/', status: 200, api: 'Test', version: 'v1', endpoint: 'production', durationMs: Number });
});

t.test('SOAP passes byte for byte, both ways', async (t) => {
  const envelope = Buffer.from(
    '<?xml version="1.0" encoding="ISO-8859-1"?>\r\n<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">\n  <soapenv:Body><q>caf\xe9 &amp; \xa0</q></soapenv:Body>\n</soapenv:Envelope>',
    'latin1',
  );
  const backend = await startBackend(t, {
    handler: (_req, res, recorded) => {
      res.writeHead(200, { 'content-type': 'text/xml; charset=ISO-8859-1' });
      res.end(recorded.body);
    },
  });
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}/soap" }`));
  const res = await request(`${gw.url}/api/v1/Service`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=ISO-8859-1', soapaction: '"urn:getQuote"' },
    body: envelope,
  });
  t.equal(res.status, 200);
  t.ok(res.body.equals(envelope), 'the response body is the request body, byte for byte');
  const received = backend.requests[0]!;
  t.ok(received.body.equals(envelope), 'the backend received it byte for byte');
  t.equal(received.headers.soapaction, '"urn:getQuote"');
  t.equal(received.headers['content-type'], 'text/xml; charset=ISO-8859-1');
  t.equal(res.headers['content-type'], 'text/xml; charset=ISO-8859-1');
});

t.test('chunked bodies stream both ways, any method', async (t) => {
  const backend = await startBackend(t, {
    handler: (req, res, recorded) => {
      res.writeHead(201, { 'content-type': 'application/octet-stream' }); // no length: chunked
      res.write(recorded.body.subarray(0, 5));
      setTimeout(() => res.end(recorded.body.subarray(5)), 20);
      t.equal(req.headers['transfer-encoding'], 'chunked', 'the backend got a chunked request');
    },
  });
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}" }`));
  const payload = randomBytes(100_000);
  const res = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const req = http.request(`${gw.url}/api/v1/upload`, { method: 'PATCH', agent: false }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => resolve({ status: r.statusCode!, headers: r.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.write(payload.subarray(0, 1000)); // no Content-Length: chunked
    setTimeout(() => req.end(payload.subarray(1000)), 20);
  });
  t.equal(res.status, 201);
  t.equal(res.headers['transfer-encoding'], 'chunked');
  t.ok(res.body.equals(payload), 'the body came back whole');
  t.equal(backend.requests[0]!.method, 'PATCH');
});

t.test('two pipelined requests in one write are answered in order', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}" }`));
  const reply = await rawExchange(
    gw.gateway.http.port,
    'GET /api/v1/first HTTP/1.1\r\nHost: gw\r\n\r\nPOST /api/v1/second HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello',
  );
  const statuses = reply.match(/HTTP\/1\.1 \d+ /g);
  t.same(statuses, ["HTTP/1.1 200 ", "HTTP/1.1 200 "]);
  t.ok(reply.indexOf('"url":"/first"') < reply.indexOf('"url":"/second"'), 'in order');
  t.same(backend.requests.map((r) => [r.method, r.url, r.body.toString()]), [
    ['GET', '/first', ''],
    ['POST', '/second', 'hello'],
  ]);
});

t.test("a backend's own 5xx is passed through untouched", async (t) => {
  const backend = await startBackend(t, {
    handler: (_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '7' });
      res.end('backend is busy');
    },
  });
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}" }`));
  const res = await request(`${gw.url}/api/v1/`);
  t.equal(res.status, 503);
  t.equal(res.text, 'backend is busy');
  t.equal(res.headers['retry-after'], '7');
});

t.test('a backend that fails after the response started aborts the client connection', async (t) => {
  const backend = await startBackend(t, {
    handler: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }); // chunked
      res.write('partial ');
      setTimeout(() => res.socket?.destroy(), 30);
    },
  });
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}" }`));
  const reply = await rawExchange(gw.gateway.http.port, 'GET /api/v1/ HTTP/1.1\r\nHost: gw\r\nX-Request-Id: mid-body\r\n\r\n', 5_000);
  t.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
  t.match(reply, /transfer-encoding: chunked/i);
  t.match(reply, /partial /);
  t.notMatch(reply, /\r\n0\r\n\r\n$/, 'no terminating chunk: the client can tell the response is incomplete');
  t.match(await gw.logs.request('mid-body'), { status: 499, code: 'BACKEND_UNREACHABLE' });
});
