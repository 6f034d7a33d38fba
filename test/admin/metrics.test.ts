// /metrics (docs/operations.md): the build, requests in flight, bytes both ways, the backend's
// time to its response headers, per endpoint; and the whole scrape of a running gateway passes
// `promtool check metrics`, Prometheus's own linter.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import t from 'tap';
import { startBackend } from '../helpers/backend.js';
import { request } from '../helpers/client.js';
import { apiConfig, startTestGateway } from '../helpers/gateway.js';
import { issue } from '../helpers/pki.js';
import { parsePrometheus, select } from '../helpers/prometheus.js';
import { until } from '../helpers/wait.js';

const PROMTOOL = '/usr/bin/promtool';
const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

t.test('build info, requests in flight, bytes, backend latency per endpoint', async (t) => {
  const leaf = issue({ cn: 'backend', sans: ['127.0.0.1'] });
  let release: (() => void) | undefined;
  const answer = Buffer.alloc(700, 'a');
  const backend = await startBackend(t, {
    certificate: leaf,
    handler: (req, res) => {
      const send = () => {
        res.writeHead(200, { 'content-length': answer.length });
        res.end(answer);
      };
      if (req.url?.startsWith('/hold')) release = send;
      else send();
    },
  });
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: backend }`), { certs: { 'backend.crt': leaf.certPem } });
  const scrape = async () => parsePrometheus((await request(`${gw.adminUrl}/metrics`)).text);
  const labels = { api: 'Test', version: 'v1', endpoint: 'production' };

  const before = await scrape();
  t.same(select(before, 'gatehouse_build_info'), [{ name: 'gatehouse_build_info', labels: { version: VERSION, node: process.version }, value: 1 }], 'gatehouse_build_info{version,node} 1');
  t.equal(select(before, 'gatehouse_requests_in_flight')[0]?.value, 0, 'nothing in flight');
  t.same(select(before, 'gatehouse_received_bytes_total'), [], 'no series before a first request');

  // One request held by the backend: in flight while it waits.
  const held = request(`${gw.url}/api/v1/hold`);
  await until(() => release !== undefined, 'the backend to hold the request');
  t.equal(select(await scrape(), 'gatehouse_requests_in_flight')[0]?.value, 1, 'one request in flight');
  release!();
  t.equal((await held).status, 200);

  t.equal((await request(`${gw.url}/api/v1/upload`, { method: 'POST', body: Buffer.alloc(1_500, 'u') })).status, 200);
  t.equal((await request(`${gw.url}/nowhere`)).status, 404);
  await until(() => gw.gateway.inFlight === 0, 'the responses to be over');
  const after = await scrape();
  t.equal(select(after, 'gatehouse_requests_in_flight')[0]?.value, 0, 'none in flight once they are over');
  t.equal(select(after, 'gatehouse_received_bytes_total', labels)[0]?.value, 1_500, 'request body bytes');
  t.equal(select(after, 'gatehouse_sent_bytes_total', labels)[0]?.value, 2 * answer.length, 'response body bytes');
  const unrouted = select(after, 'gatehouse_sent_bytes_total', { api: '-' })[0]?.value ?? 0;
  t.ok(unrouted > 0, "the gateway's own error bodies count, under api=\"-\"");
  t.equal(select(after, 'gatehouse_backend_duration_seconds_count', labels)[0]?.value, 2, 'two requests answered by the backend');
  t.equal(select(after, 'gatehouse_backend_duration_seconds_bucket', { ...labels, le: '+Inf' })[0]?.value, 2);
  t.same(select(after, 'gatehouse_backend_duration_seconds_count', { api: '-' }), [], 'no backend time for a request that reached none');
  t.ok(select(after, 'gatehouse_backend_duration_seconds_sum', labels)[0]!.value <= select(after, 'gatehouse_request_duration_seconds_sum', labels)[0]!.value, "the backend's part is within the whole");
  t.equal(select(after, 'gatehouse_requests_total', { ...labels, status_class: '2xx' })[0]?.value, 2, 'the existing series are kept');
  t.same(select(after, 'nodejs_active_handles_total'), [], 'no gauge named *_total');
  t.ok(select(after, 'nodejs_active_handles').length > 0, 'the per-type handles gauge stays');
});

t.test('promtool check metrics passes on the scrape of a running gateway', { skip: existsSync(PROMTOOL) ? false : 'promtool not installed: apt-get install prometheus' }, async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}" }`));
  // Every kind of series present: requests of each outcome, a backend error, a histogram.
  await request(`${gw.url}/api/v1/x`);
  await request(`${gw.url}/nowhere`);
  const text = (await request(`${gw.adminUrl}/metrics`)).text;
  t.match(text, /gatehouse_backend_duration_seconds_bucket/);
  const result = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  t.equal(`${result.stdout}${result.stderr}`, '', 'no lint problem');
  t.equal(result.status, 0, 'promtool exits 0');

  // The check can fail: what prom-client exposes by default does not pass.
  const { Registry, collectDefaultMetrics } = await import('prom-client');
  const raw = new Registry();
  collectDefaultMetrics({ register: raw });
  const refused = spawnSync(PROMTOOL, ['check', 'metrics'], { input: await raw.metrics(), encoding: 'utf8' });
  t.equal(refused.status, 3, "prom-client's defaults alone fail the lint");
  t.match(refused.stdout + refused.stderr, /nodejs_active_handles_total non-counter metrics should not have "_total" suffix/);
});
