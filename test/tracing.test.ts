// Opt-in OpenTelemetry tracing (docs/http.md, "Tracing"): when the OTEL_* variables ask for it,
// one server span per request, exported over OTLP/HTTP to a real receiver here, continuing the
// client's traceparent and named as the parent in the traceparent the backend receives.
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import t from 'tap';
import type { Test } from 'tap';
import { openTracing, tracingSettings } from '../src/proxy/tracing.js';
import { closedPort, startBackend } from './helpers/backend.js';
import { request } from './helpers/client.js';
import { LogCapture } from './helpers/gateway.js';
import { issue } from './helpers/pki.js';
import { spawnGateway } from './helpers/process.js';
import { until } from './helpers/wait.js';

t.test('which variables turn tracing on', async (t) => {
  const on = (env: Record<string, string>) => tracingSettings(env).settings;
  t.equal(on({}), undefined, 'nothing set: off (no spans sent to a default localhost:4318)');
  t.same(on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), { exporters: ['otlp'], protocol: 'http/protobuf' }, 'an OTLP endpoint: on, protobuf by default');
  t.same(on({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }), { exporters: ['otlp'], protocol: 'http/json' });
  t.same(on({ OTEL_TRACES_EXPORTER: 'otlp' }), { exporters: ['otlp'], protocol: 'http/protobuf' }, 'OTEL_TRACES_EXPORTER=otlp alone');
  t.same(on({ OTEL_TRACES_EXPORTER: 'console, otlp', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }), { exporters: ['console', 'otlp'], protocol: 'http/json' }, 'the traces-specific protocol wins');
  t.equal(on({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }), undefined, 'OTEL_TRACES_EXPORTER=none');
  t.equal(on({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }), undefined, 'OTEL_SDK_DISABLED=true');
  t.same(on({ OTEL_SDK_DISABLED: 'false', OTEL_TRACES_EXPORTER: 'otlp' }), { exporters: ['otlp'], protocol: 'http/protobuf' }, 'OTEL_SDK_DISABLED=false');
  t.same(tracingSettings({ OTEL_TRACES_EXPORTER: 'zipkin' }), { settings: undefined, problems: ['OTEL_TRACES_EXPORTER: zipkin not supported (supported: otlp, console); ignored'] });
  t.match(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), { settings: undefined, problems: [/^OTEL_EXPORTER_OTLP_PROTOCOL "grpc" is not supported .*4318.*; tracing is off$/] });

  const logs = new LogCapture();
  t.equal(await openTracing({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' }, pino({}, logs)), undefined, 'grpc: off');
  t.match(logs.lines, [{ level: 40, component: 'tracing', msg: /"grpc" is not supported/ }], 'and said in the log');
});

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: number | string } }[];
  status?: { code?: number; message?: string };
}

/** An OTLP/HTTP receiver (JSON): every span of every POST /v1/traces, with its resource's attributes. */
async function startReceiver(t: Test) {
  const spans: (OtlpSpan & { resource: Record<string, unknown> })[] = [];
  const contentTypes: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      contentTypes.push(req.headers['content-type'] ?? '');
      if (req.method === 'POST' && req.url === '/v1/traces') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          resourceSpans: { resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
        };
        for (const rs of body.resourceSpans) {
          const resource = Object.fromEntries(rs.resource.attributes.map((a) => [a.key, a.value.stringValue ?? a.value.intValue]));
          for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push({ ...span, resource });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`, spans, contentTypes };
}

function attributesOf(span: OtlpSpan): Record<string, string | number | undefined> {
  return Object.fromEntries(span.attributes.map((a) => [a.key, a.value.stringValue ?? (a.value.intValue === undefined ? undefined : Number(a.value.intValue))]));
}

t.test('one server span per request: client → gateway span → backend, one trace id', async (t) => {
  const receiver = await startReceiver(t);
  const leaf = issue({ cn: 'backend', sans: ['127.0.0.1'] });
  const backend = await startBackend(t, { certificate: leaf });
  const down = await closedPort();
  const dir = t.testdir({
    'gateway.yaml': `version: 1
listen: { http: "127.0.0.1:0" }
admin: { address: "127.0.0.1:0" }
apis:
  - { name: Traced, context: /api, version: v1, endpoints: { production: { url: "${backend.url}", certificate: backend } } }
  - { name: Down, context: /down, version: v1, endpoints: { production: { url: "https://127.0.0.1:${down}", certificate: backend } } }
`,
    certs: { 'backend.crt': leaf.certPem },
  });
  const gw = await spawnGateway(t, dir, ['-c', 'gateway.yaml'], [], {
    env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_SERVICE_NAME: 'gatehouse-under-test' },
  });
  t.match(gw.logs.find((l) => l.component === 'tracing'), { level: 30, exporters: ['otlp'], protocol: 'http/json' }, 'the log says tracing is on');

  // 1. A client's trace is continued.
  const clientTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const clientSpan = '00f067aa0ba902b7';
  const res = await request(`${gw.url}/api/v1/orders?secret=1`, { headers: { traceparent: `00-${clientTrace}-${clientSpan}-01`, 'x-request-id': 'traced', 'user-agent': 'tracer/1' } });
  t.equal(res.status, 200);
  const sent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(backend.requests[0]!.headers.traceparent));
  t.ok(sent, `the backend receives a traceparent (${String(backend.requests[0]!.headers.traceparent)})`);
  t.equal(sent![1], clientTrace, "… in the client's trace");
  t.not(sent![2], clientSpan, "… naming the gateway's span as its parent, not the client's");
  await until(() => receiver.spans.some((s) => s.traceId === clientTrace), 'the span to be exported');
  const span = receiver.spans.find((s) => s.traceId === clientTrace)!;
  t.equal(span.spanId, sent![2], 'the exported span is the one the backend was told of');
  t.equal(span.parentSpanId, clientSpan, "its parent is the client's span");
  t.equal(span.name, 'GET /api/v1');
  t.equal(span.kind, 2, 'SPAN_KIND_SERVER');
  t.match(attributesOf(span), {
    'http.request.method': 'GET',
    'http.route': '/api/v1',
    'http.response.status_code': 200,
    'url.path': '/api/v1/orders',
    'url.scheme': 'http',
    'server.address': '127.0.0.1',
    'server.port': Number(new URL(gw.url).port),
    'client.address': '127.0.0.1',
    'user_agent.original': 'tracer/1',
    'network.protocol.version': '1.1',
    'gatehouse.request_id': 'traced',
    'gatehouse.api': 'Traced',
    'gatehouse.endpoint': 'production',
    'gatehouse.upstream.address': `127.0.0.1:${backend.port}`,
  });
  t.notMatch(JSON.stringify(span), /secret=1/, 'no query string in the span');
  t.match(span.resource, { 'service.name': 'gatehouse-under-test', 'service.version': String });
  t.match(await gw.logs.request('traced'), { traceId: clientTrace }, 'the access line has the trace id');

  // 2. No traceparent: a new trace, the same id in the span, the backend's header and the log.
  await request(`${gw.url}/api/v1/fresh`, { headers: { 'x-request-id': 'fresh' } });
  const fresh = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(backend.requests[1]!.headers.traceparent));
  t.ok(fresh, 'a traceparent for the backend, sampled');
  t.match(await gw.logs.request('fresh'), { traceId: fresh![1] });
  await until(() => receiver.spans.some((s) => s.traceId === fresh![1]), 'the new trace to be exported');
  t.notOk(receiver.spans.find((s) => s.traceId === fresh![1])!.parentSpanId, 'a root span');

  // 3. A caller that does not sample: the decision is followed, the trace still propagated.
  const unsampled = '0af7651916cd43dd8448eb211c80319c';
  await request(`${gw.url}/api/v1/quiet`, { headers: { traceparent: `00-${unsampled}-b7ad6b7169203331-00` } });
  t.match(String(backend.requests[2]!.headers.traceparent), new RegExp(`^00-${unsampled}-[0-9a-f]{16}-00$`), 'not sampled, still one trace');

  // 4. A failure toward the backend is an error span.
  t.equal((await request(`${gw.url}/down/v1/x`, { headers: { 'x-request-id': 'down' } })).status, 502);
  await until(() => receiver.spans.some((s) => attributesOf(s)['gatehouse.request_id'] === 'down'), 'the failed span to be exported');
  const failed = receiver.spans.find((s) => attributesOf(s)['gatehouse.request_id'] === 'down')!;
  t.match(failed, { name: 'GET /down/v1', status: { code: 2, message: 'BACKEND_UNREACHABLE' } });
  t.match(attributesOf(failed), { 'error.type': 'BACKEND_UNREACHABLE', 'http.response.status_code': 502 });

  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0);
  t.notOk(receiver.spans.some((s) => s.traceId === unsampled), 'the unsampled request exported nothing');
  t.ok(receiver.contentTypes.every((c) => c === 'application/json'), 'OTLP/HTTP JSON, as OTEL_EXPORTER_OTLP_PROTOCOL says');
});

/** A module hook that names on stderr every @opentelemetry module the process imports. */
function moduleWatch(dir: string): string[] {
  writeFileSync(
    path.join(dir, 'hooks.mjs'),
    `import { writeSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (result.url.includes('/@opentelemetry/')) writeSync(2, 'module loaded: ' + result.url + '\\n');
  return result;
}
`,
  );
  writeFileSync(path.join(dir, 'register.mjs'), "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
  return ['--import', pathToFileURL(path.join(dir, 'register.mjs')).href];
}

function plainConfig(backendUrl: string): string {
  return `version: 1
listen: { http: "127.0.0.1:0" }
admin: { address: "127.0.0.1:0" }
apis:
  - { name: Plain, context: /api, version: v1, endpoints: { production: { url: "${backendUrl}" } } }
`;
}

t.test('off: no OpenTelemetry module is loaded; on: the exporter failing is said in the log, not per batch', async (t) => {
  const backend = await startBackend(t);
  const dir = t.testdir({ 'gateway.yaml': plainConfig(backend.url) });
  const watch = moduleWatch(dir);
  const off = await spawnGateway(t, dir, ['-c', 'gateway.yaml'], watch);
  t.equal((await request(`${off.url}/api/v1/x`)).status, 200);
  off.child.kill('SIGTERM');
  t.equal(await off.exited, 0);
  t.notMatch(off.stderr(), /module loaded/, 'tracing off: nothing of @opentelemetry imported');

  const down = await closedPort();
  const on = await spawnGateway(t, dir, ['-c', 'gateway.yaml'], watch, {
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${down}`, OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_EXPORTER_OTLP_TIMEOUT: '2000' },
  });
  t.match(on.stderr(), /module loaded: .*\/@opentelemetry\/api\//, 'the watch sees the SDK when tracing is on (so its silence above means something)');
  for (let i = 0; i < 3; i++) t.equal((await request(`${on.url}/api/v1/x`)).status, 200, 'requests are served while the collector is down');
  const told = await on.logs.waitFor((l) => l.component === 'tracing' && l.level === 40 && /^OpenTelemetry: /.test(l.msg));
  t.match(told, { code: 'ECONNREFUSED', msg: /^OpenTelemetry: connect ECONNREFUSED 127\.0\.0\.1:\d+ \(spans may be lost/ }, 'the export failure, with its reason');
  on.child.kill('SIGTERM');
  t.equal(await on.exited, 0);
  t.equal(on.logs.lines.filter((l) => l.msg === told.msg).length, 1, 'said once, not once per failed batch');
});
