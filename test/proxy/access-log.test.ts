// The access log (docs/http.md, "Logs"): the line pino would write (same fields, same order),
// in batches, in a stream of its own whatever the logger's level, at the level of its outcome,
// to the destination of accessLog.destination; and what a real request through a real TLS
// backend puts in it.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pino from 'pino';
import t from 'tap';
import { startGateway } from '../../src/gateway.js';
import { AccessLog, AccessLogError, accessLevelOf } from '../../src/proxy/access-log.js';
import type { AccessLine } from '../../src/proxy/access-log.js';
import { formatTraceParent, parseTraceParent, traceIdOf } from '../../src/proxy/trace-context.js';
import { labelsOf } from '../../src/snapshot/snapshot.js';
import { closedPort, startBackend } from '../helpers/backend.js';
import { BIN } from '../helpers/cli.js';
import { request } from '../helpers/client.js';
import { LogCapture, apiConfig, nextReload, startTestGateway } from '../helpers/gateway.js';
import type { LogLine } from '../helpers/gateway.js';
import { issue } from '../helpers/pki.js';
import { untilAsync } from '../helpers/wait.js';

const LINE: AccessLine = {
  requestId: 'r',
  method: 'GET',
  path: '/',
  protocol: 'HTTP/1.1',
  host: 'gw.example',
  client: '127.0.0.1',
  userAgent: 'curl/8',
  status: 200,
  durationMs: 1,
  bytesReceived: 0,
  bytesSent: 2,
  labels: undefined,
  upstream: undefined,
  upstreamMs: undefined,
  traceId: undefined,
  code: undefined,
  caller: undefined,
  detail: undefined,
};

t.test('the same line as pino, field for field', async (t) => {
  const capture = new LogCapture();
  const logger = pino({ name: 'gatehouse', base: { pid: 4242 } }, capture);
  const access = new AccessLog(logger);
  const fields = {
    requestId: 'id-42:abc/DEF=',
    method: 'GET',
    path: '/api/v1/ünïcode/"x"',
    protocol: 'HTTP/1.1',
    host: 'gw.example:8280',
    client: '10.1.2.3',
    userAgent: 'Agent "quoted" \\ back\u00e9',
    status: 502,
    durationMs: 12.34,
    bytesReceived: 10,
    bytesSent: 130,
  };
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  access.write({
    ...fields,
    labels: labelsOf('Shop "A"', '1.0', 'production'),
    upstream: '127.0.0.1:9443',
    upstreamMs: 3.5,
    traceId,
    code: 'BACKEND_TLS_UNTRUSTED',
    caller: { apiKey: 'partner "acme"' },
    detail: { backend: 'https://b:1', error: { code: 'X' } },
  });
  access.flush();
  logger.error(
    { ...fields, worker: 0, api: 'Shop "A"', version: '1.0', endpoint: 'production', upstream: '127.0.0.1:9443', upstreamMs: 3.5, traceId, apiKey: 'partner "acme"', code: 'BACKEND_TLS_UNTRUSTED', backend: 'https://b:1', error: { code: 'X' } },
    'request',
  );
  t.equal(capture.lines.length, 2);
  const [ours, theirs] = [capture.lines[0]!, capture.lines[1]!];
  t.same(Object.keys(ours), Object.keys(theirs.worker === undefined ? theirs : reorder(theirs)), 'same fields in the same order');
  t.same({ ...ours, time: 0 }, { ...theirs, time: 0 }, 'same values, the escaped user agent and path included');
  t.equal(ours.level, 50, 'a backend trust failure is logged at error');
});

/** pino puts the bindings first, then the fields in the order given: worker comes right after them in ours. */
function reorder(line: LogLine): LogLine {
  const { level, time, pid, name, worker, ...rest } = line;
  return { level, time, pid, name, worker, ...rest };
}

t.test('levels: failures toward the backend at warn or error, everything else at info', async (t) => {
  t.equal(accessLevelOf(undefined), 30, 'an answer from the backend');
  for (const code of ['NO_ROUTE', 'METHOD_NOT_ALLOWED', 'INVALID_PATH', 'PAYLOAD_TOO_LARGE', 'UPGRADE_NOT_SUPPORTED', 'INVALID_HOST', 'REQUEST_HEADERS_TOO_LARGE']) t.equal(accessLevelOf(code), 30, `${code}: a refusal of the client's request`);
  for (const code of ['BACKEND_UNREACHABLE', 'BACKEND_TIMEOUT', 'BACKEND_INVALID_RESPONSE', 'CERTIFICATE_PENDING']) t.equal(accessLevelOf(code), 40, `${code}: may pass by itself`);
  for (const code of ['BACKEND_TLS_UNTRUSTED', 'BACKEND_HOSTNAME_MISMATCH', 'BACKEND_TLS_PROTOCOL']) t.equal(accessLevelOf(code), 50, `${code}: broken until someone acts`);
});

t.test('lines are batched, flushed on a timer, and written whatever the logger level', async (t) => {
  const capture = new LogCapture();
  const access = new AccessLog(pino({}, capture));
  for (let i = 0; i < 63; i++) access.write(LINE);
  t.equal(capture.raw.length, 0, 'waiting for a batch');
  access.write(LINE);
  t.equal(capture.raw.length, 64, 'a full batch is written at once');
  access.write(LINE);
  await capture.waitFor(() => capture.raw.length === 65, 2_000);
  t.pass('a partial batch is written by the timer');

  const quiet = new LogCapture();
  const errorOnly = new AccessLog(pino({ level: 'error' }, quiet));
  errorOnly.write(LINE);
  errorOnly.write({ ...LINE, code: 'BACKEND_TIMEOUT', status: 504 });
  errorOnly.flush();
  t.same(
    quiet.lines.map((l) => l.level),
    [30, 40],
    'the access log is its own stream: an info and a warn line with the logger at error, each once',
  );
});

t.test('destination off, stderr or a file: failures also reach the other log lines, at their level', async (t) => {
  const dir = t.testdir({});
  const main = new LogCapture();
  const access = new AccessLog(pino({ level: 'warn' }, main), { destination: 'off' });
  access.write(LINE);
  access.write({ ...LINE, requestId: 'timeout', code: 'BACKEND_TIMEOUT', status: 504 });
  access.flush();
  t.same(
    main.lines.map((l) => [l.requestId, l.level]),
    [['timeout', 40]],
    'off: no access line, but the failure is logged with the other lines',
  );

  const file = path.join(dir, 'access.log');
  access.apply({ destination: 'file', file });
  access.write({ ...LINE, requestId: 'to-file' });
  access.write({ ...LINE, requestId: 'untrusted', code: 'BACKEND_TLS_UNTRUSTED', status: 502 });
  await access.close();
  const written = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogLine);
  t.same(
    written.map((l) => [l.requestId, l.level]),
    [
      ['to-file', 30],
      ['untrusted', 50],
    ],
    'the file has every access line',
  );
  t.same(
    main.lines.map((l) => l.requestId),
    ['timeout', 'untrusted'],
    'the other log lines have the failures only, once each',
  );

  const errorOnly = new LogCapture();
  const toFile = new AccessLog(pino({ level: 'error' }, errorOnly), { destination: 'file', file });
  toFile.write({ ...LINE, requestId: 'warned', code: 'BACKEND_UNREACHABLE', status: 502 });
  await toFile.close();
  t.equal(errorOnly.lines.length, 0, 'a warn failure is not copied to a logger at error');
  t.match(readFileSync(file, 'utf8'), /"requestId":"warned"/, 'the file is appended to, not truncated');

  t.throws(() => new AccessLog(pino({}, main), { destination: 'file', file: path.join(dir, 'no-such-folder', 'access.log') }), AccessLogError, 'a file that cannot be opened');
  const keeps = new AccessLog(pino({}, main), { destination: 'stdout' });
  t.throws(() => keeps.apply({ destination: 'file', file: path.join(dir, 'no-such-folder', 'a.log') }), AccessLogError);
  keeps.write({ ...LINE, requestId: 'still-here' });
  keeps.flush();
  t.ok(main.find((l) => l.requestId === 'still-here'), 'a destination that cannot be opened leaves the old one in place');
});

t.test('W3C traceparent: a valid version-00 header, or nothing', async (t) => {
  const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  t.equal(traceIdOf(valid), '4bf92f3577b34da6a3ce929d0e0e4736');
  t.same(parseTraceParent(valid), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: 1 });
  t.equal(formatTraceParent('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', 1), valid, 'written back the same');
  t.equal(formatTraceParent('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', 0x8f), '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-8f');
  const invalid: Record<string, string | string[] | undefined> = {
    absent: undefined,
    'upper-case hex': valid.toUpperCase(),
    'version 01': valid.replace(/^00/, '01'),
    'version ff': valid.replace(/^00/, 'ff'),
    'zero trace id': `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
    'zero parent id': `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`,
    'too short': valid.slice(0, 54),
    'too long': `${valid}-x`,
    'two headers joined': `${valid}, ${valid}`,
    'an array': [valid, valid],
    'not hex': valid.replace('4bf9', 'zzzz'),
    'wrong separators': valid.replace(/-/g, '_'),
  };
  for (const [why, header] of Object.entries(invalid)) {
    t.equal(traceIdOf(header), undefined, why);
    t.equal(parseTraceParent(header), undefined, why);
  }
});

t.test('a request through a TLS backend: bytes both ways, upstream address and time, protocol, host, user agent, worker, trace id; no query, no credentials', async (t) => {
  const leaf = issue({ cn: 'backend', sans: ['127.0.0.1'] });
  const answer = Buffer.from('{"ok":true,"padding":"' + 'x'.repeat(1000) + '"}');
  const backend = await startBackend(t, {
    certificate: leaf,
    handler: (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length });
      res.end(answer);
    },
  });
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: backend }`), { certs: { 'backend.crt': leaf.certPem } });
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const body = Buffer.alloc(5_000, 'b');
  const res = await request(`${gw.url}/api/v1/orders?token=secret-in-query`, {
    method: 'POST',
    headers: { 'x-request-id': 'with-body', 'user-agent': 'tester "quoted" \\ 1.0', authorization: 'Bearer secret-token', traceparent, 'content-length': String(body.length) },
    body,
  });
  t.equal(res.status, 200);
  t.equal(backend.requests[0]!.headers.traceparent, traceparent, 'tracing off: the traceparent reaches the backend unchanged');
  const line = await gw.logs.request('with-body');
  t.match(line, {
    level: 30,
    method: 'POST',
    path: '/api/v1/orders',
    protocol: 'HTTP/1.1',
    host: `127.0.0.1:${gw.gateway.http.port}`,
    client: '127.0.0.1',
    userAgent: 'tester "quoted" \\ 1.0',
    status: 200,
    bytesReceived: body.length,
    bytesSent: answer.length,
    api: 'Test',
    upstream: `127.0.0.1:${backend.port}`,
    traceId: '0af7651916cd43dd8448eb211c80319c',
    worker: 0,
  });
  t.type(line.upstreamMs, 'number', 'upstream time');
  t.ok((line.upstreamMs as number) >= 0 && (line.upstreamMs as number) <= (line.durationMs as number), 'within the request');
  const raw = gw.logs.raw.find((l) => l.includes('"requestId":"with-body"'))!;
  t.notMatch(raw, /secret-in-query|secret-token|token=/, 'neither the query string nor the Authorization header');

  // A chunked body (no Content-Length) is counted as it streams; a bad traceparent is no trace id.
  const chunked = await new Promise<number>((resolve, reject) => {
    const req = http.request(`${gw.url}/api/v1/chunked`, { method: 'PUT', headers: { 'x-request-id': 'chunked', traceparent: 'not-a-traceparent' }, agent: false });
    req.on('response', (r: http.IncomingMessage) => {
      r.resume();
      r.on('end', () => resolve(r.statusCode ?? 0));
    });
    req.on('error', reject);
    req.write(Buffer.alloc(3_000, 'c'));
    req.end(Buffer.alloc(1_234, 'd'));
  });
  t.equal(chunked, 200);
  const chunkedLine = await gw.logs.request('chunked');
  t.equal(chunkedLine.bytesReceived, 4_234, 'a chunked body, counted');
  t.equal(chunkedLine.traceId, undefined, 'an invalid traceparent is ignored');
  t.equal(backend.requests[1]!.headers.traceparent, 'not-a-traceparent', '… and passed on as it came, tracing being off');
  t.notOk('userAgent' in chunkedLine, 'no user agent, no field');
});

t.test('failures: one line each, at warn or error with the hint check prints; refusals at info', async (t) => {
  const leaf = issue({ cn: 'backend', sans: ['127.0.0.1'] });
  const other = issue({ cn: 'someone else', sans: ['127.0.0.1'], keyIndex: 1 });
  const silent = await startBackend(t, { certificate: leaf, handler: () => undefined });
  const untrusted = await startBackend(t, { certificate: other });
  const gw = await startTestGateway(
    t,
    `version: 1
apis:
  - { name: Slow, context: /slow, version: v1, timeouts: { connect: 200ms, socket: 300ms }, endpoints: { production: { url: "${silent.url}", certificate: backend } } }
  - { name: Wrong, context: /wrong, version: v1, endpoints: { production: { url: "${untrusted.url}", certificate: backend } } }
`,
    { certs: { 'backend.crt': leaf.certPem } },
  );
  t.equal((await request(`${gw.url}/slow/v1/x`, { headers: { 'x-request-id': 'slow' } })).status, 504);
  t.equal((await request(`${gw.url}/wrong/v1/x`, { headers: { 'x-request-id': 'wrong' } })).status, 502);
  t.equal((await request(`${gw.url}/nowhere`, { headers: { 'x-request-id': 'nowhere' } })).status, 404);
  const slow = await gw.logs.request('slow');
  t.match(slow, { level: 40, status: 504, code: 'BACKEND_TIMEOUT', timeout: { setting: 'timeouts.socket', ms: 300 }, hint: /within timeouts\.socket \(300ms\)/, upstream: `127.0.0.1:${silent.port}` });
  t.notOk('upstreamMs' in slow, 'no response headers, no upstream time');
  t.match(await gw.logs.request('wrong'), { level: 50, status: 502, code: 'BACKEND_TLS_UNTRUSTED', hint: /^the backend presents "CN=someone else"/ });
  t.match(await gw.logs.request('nowhere'), { level: 30, status: 404, code: 'NO_ROUTE' });
  t.match(gw.logs.find((l) => l.requestId === 'nowhere'), { bytesSent: Number }, 'the error body is counted');
  for (const id of ['slow', 'wrong', 'nowhere']) t.equal(gw.logs.lines.filter((l) => l.requestId === id).length, 1, `one line for ${id}`);
});

t.test('accessLog.destination: a file, followed through a reload; one that cannot be opened', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}" }`, '', 'accessLog: { destination: ./logs/access.log }\nreload: { interval: 100ms }\n'), { logs: {} });
  const file = path.join(gw.dir, 'logs', 'access.log');
  await request(`${gw.url}/api/v1/a`, { headers: { 'x-request-id': 'in-file' } });
  await request(`${gw.url}/nowhere`, { headers: { 'x-request-id': 'no-route' } });
  t.notOk(gw.logs.find((l) => l.msg === 'request'), 'no access line with the other log lines');

  // A reload to a folder that does not exist: logged, and the lines stay in the file.
  const config = path.join(gw.dir, 'gateway.yaml');
  writeFileSync(config, readFileSync(config, 'utf8').replace('./logs/access.log', './missing/access.log'));
  await nextReload(gw.gateway, 'applied');
  t.match(await gw.logs.waitFor((l) => l.code === 'ACCESS_LOG_FAILED'), { level: 50, file: path.join(gw.dir, 'missing', 'access.log'), msg: /cannot open the access log file .*; access lines keep going to .*access\.log$/ });
  await request(`${gw.url}/api/v1/b`, { headers: { 'x-request-id': 'still-in-file' } });

  // Back to stdout: the file is flushed and closed, lines go with the others.
  writeFileSync(config, readFileSync(config, 'utf8').replace('destination: ./missing/access.log', 'destination: stdout'));
  await nextReload(gw.gateway, 'applied');
  await request(`${gw.url}/api/v1/c`, { headers: { 'x-request-id': 'on-stdout' } });
  t.match(await gw.logs.request('on-stdout'), { status: 200 });
  const inFile = readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as LogLine).requestId);
  t.same(inFile, ['in-file', 'no-route', 'still-in-file'], 'the file had the lines until the destination moved');
});

t.test('a file that cannot be opened at start: ACCESS_LOG_FAILED on its line, nothing started', async (t) => {
  const dir = t.testdir({ 'gateway.yaml': 'version: 1\nlisten: { http: "127.0.0.1:0" }\nadmin: { address: "127.0.0.1:0" }\naccessLog:\n  destination: ./no-such-folder/access.log\napis: []\n' });
  const started = await startGateway({ configPath: path.join(dir, 'gateway.yaml'), env: {}, logger: pino({}, new LogCapture()) });
  t.equal(started.gateway, undefined);
  t.match(started.diagnostics, [{ severity: 'error', code: 'ACCESS_LOG_FAILED', line: 5, path: 'accessLog.destination', message: /^cannot open the access log file .*no-such-folder.access\.log: ENOENT/ }]);
});

t.test('gatehouse run --log-level warn: access lines still on stdout', async (t) => {
  const backend = http.createServer((_req, res) => res.end('ok'));
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  t.teardown(() => backend.close());
  // 'gateway listening' is an info line, which --log-level warn hides: the ports are chosen here.
  const [port, adminPort] = [await closedPort(), await closedPort()];
  const dir = t.testdir({
    'gateway.yaml': apiConfig(`{ url: "http://127.0.0.1:${(backend.address() as AddressInfo).port}" }`, '', `listen: { http: "127.0.0.1:${port}" }\nadmin: { address: "127.0.0.1:${adminPort}" }\n`),
  });
  const child = spawn(process.execPath, [BIN, 'run', '-c', path.join(dir, 'gateway.yaml'), '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void (child.exitCode === null && child.kill('SIGKILL')));
  const logs = new LogCapture().follow(child.stdout);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await untilAsync(async () => (await request(`http://127.0.0.1:${adminPort}/readyz`).catch(() => undefined))?.status === 200, 'the gateway to be ready', 20_000);
  t.equal((await request(`http://127.0.0.1:${port}/api/v1/x`, { headers: { 'x-request-id': 'quiet-level' } })).status, 200);
  t.match(await logs.request('quiet-level'), { level: 30, status: 200, bytesSent: 2 });
  t.notOk(logs.find((l) => l.msg === 'gateway listening'), 'the other info lines are hidden, as asked');
  child.kill('SIGTERM');
  t.equal(await exited, 0);
});
