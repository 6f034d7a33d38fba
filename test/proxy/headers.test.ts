// The request headers the gateway reads in one pass over rawHeaders (RequestHeaders) say what
// Node's req.headers says, for the headers it reads, repeated or not, in any case: checked on a
// real node:http server against raw requests.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { rawExchange } from '../helpers/client.js';
import { RequestHeaders } from '../../src/proxy/headers.js';

t.test('RequestHeaders agrees with req.headers', async (t) => {
  const seen: { facts: RequestHeaders; node: http.IncomingHttpHeaders }[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ facts: new RequestHeaders(req.rawHeaders, 'x-env'), node: req.headers });
    res.end('ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const { port } = server.address() as AddressInfo;
  const requests = [
    'GET / HTTP/1.1\r\nHost: a.example\r\nUser-Agent: curl/8\r\nX-Request-Id: abc\r\n\r\n',
    'GET / HTTP/1.1\r\nhost: a.example\r\nHOST: b.example\r\nuser-agent: one\r\nUser-Agent: two\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: one\r\nx-request-id: two\r\nTraceparent: 00-a-b-01\r\ntraceparent: 00-c-d-01\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1\r\nx-forwarded-for: 10.0.0.2, 10.0.0.3\r\nX-Env: Sandbox\r\nx-env: other\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi',
    'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: h\r\nX-Other: 1\r\nAccept: */*\r\nCookie: a=b\r\n\r\n',
  ];
  for (const payload of requests) await rawExchange(port, payload, 200);
  t.equal(seen.length, requests.length);
  for (const [i, { facts, node }] of seen.entries()) {
    const expected = {
      requestId: node['x-request-id'],
      traceparent: node.traceparent,
      upgrade: node.upgrade,
      connection: node.connection,
      host: node.host,
      userAgent: node['user-agent'],
      forwardedFor: node['x-forwarded-for'],
      contentLength: node['content-length'],
      transferEncoding: node['transfer-encoding'],
      sandbox: node['x-env'],
    };
    t.same({ ...facts }, expected, `request ${i + 1}`);
  }
});
