// The admin address (docs/operations.md) against a gateway started on real sockets with real certificates:
// every route with and without a token, /status's content, /metrics parsed as a scraper would,
// POST /reload, /readyz while stopping, and the certificate expiry lines.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startBackend } from '../helpers/backend.js';
import { json, request } from '../helpers/client.js';
import { startTestGateway } from '../helpers/gateway.js';
import { createCA, daysFromNow, issue } from '../helpers/pki.js';
import { parsePrometheus, select } from '../helpers/prometheus.js';
import { loadFixture } from '../helpers/workspace.js';
import type { StatusDocument } from '../../src/admin/status.js';
import type { TargetSummary } from '../../src/config/summary.js';

const ca = createCA('Admin Test CA', { keyIndex: 0 });
const leaf = issue({ cn: 'admin.test', sans: ['127.0.0.1'], issuer: ca, keyIndex: 1 });
const TOKEN = 's3cret-admin-token-value';

const config = (apis: string, admin = 'admin: { address: "127.0.0.1:0" }') => `version: 1
listen: { http: "127.0.0.1:0" }
${admin}
reload: { interval: 10m }
apis:
${apis}`;
const shop = (url: string) => `  - { name: Shop, context: /shop, version: v1, endpoints: { production: { url: "${url}", certificate: shop-ca }, sandbox: { url: "${url}", certificate: shop-ca } } }\n`;
const pending = (url: string) => `  - { name: Later, context: /later, version: v1, endpoints: { production: { url: "${url}", certificate: later-ca } } }\n`;

/** notAfter in Unix seconds, as X.509 stores it (whole seconds). */
const notAfterSeconds = (cert: { cert: { validity: { notAfter: Date } } }) => Math.floor(cert.cert.validity.notAfter.getTime() / 1000);

t.test('routes: open probes and metrics; /status and /reload behind the token', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const gw = await startTestGateway(t, config(shop(backend.url), 'admin: { address: "127.0.0.1:0", token: "${ADMIN_TOKEN}" }'), { certs: { 'shop-ca.crt': ca.certPem } }, { env: { ADMIN_TOKEN: TOKEN } });
  const admin = gw.adminUrl;

  const healthz = await request(`${admin}/healthz`);
  t.equal(healthz.status, 200);
  t.equal(healthz.text, 'ok\n');
  t.equal((await request(`${admin}/readyz`)).status, 200);
  t.equal((await request(`${admin}/metrics`)).status, 200, '/metrics needs no token');

  for (const [method, route] of [['GET', '/status'], ['POST', '/reload']] as const) {
    const none = await request(`${admin}${route}`, { method });
    t.equal(none.status, 401, `${method} ${route} without a token`);
    t.equal(none.headers['www-authenticate'], 'Bearer realm="gatehouse admin"');
    t.match(json<{ error: { code: string } }>(none).error.code, 'UNAUTHORIZED');
    t.equal((await request(`${admin}${route}`, { method, headers: { authorization: `Bearer ${TOKEN}x` } })).status, 401, `${method} ${route} with a wrong token`);
    t.equal((await request(`${admin}${route}`, { method, headers: { authorization: TOKEN } })).status, 401, `${method} ${route} without the Bearer scheme`);
    t.equal((await request(`${admin}${route}`, { method, headers: { authorization: `Bearer ${TOKEN}` } })).status, 200, `${method} ${route} with the token`);
  }

  const wrongMethod = await request(`${admin}/reload`);
  t.equal(wrongMethod.status, 405);
  t.equal(wrongMethod.headers.allow, 'POST');
  t.equal((await request(`${admin}/status`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status, 405);
  const unknown = await request(`${admin}/nope`);
  t.equal(unknown.status, 404);
  t.match(unknown.text, '/healthz', 'the 404 lists the routes');

  const status = await request(`${admin}/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
  t.notMatch(status.text, TOKEN, '/status never shows the token');
  t.notOk(gw.logs.raw.some((line) => line.includes(TOKEN)), 'no log line holds the token');
});

t.test('without a token, /status and /reload are open (the admin address is loopback)', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const gw = await startTestGateway(t, config(shop(backend.url)), { certs: { 'shop-ca.crt': ca.certPem } });
  t.equal((await request(`${gw.adminUrl}/status`)).status, 200);
  t.equal((await request(`${gw.adminUrl}/reload`, { method: 'POST' })).status, 200);
});

t.test('an admin address reachable from other machines needs a token', async (t) => {
  for (const address of ['0.0.0.0:9901', '9901', '10.1.2.3:9901', '[::]:9901']) {
    const loaded = await loadFixture(t, { 'gateway.yaml': `version: 1\nadmin: { address: "${address}" }\napis: []\n` });
    const error = loaded.diagnostics.find((d) => d.code === 'CONFIG_ADMIN_TOKEN');
    t.ok(error, `${address} without a token is refused`);
    t.equal(error?.line, 2, 'the error points at the admin address');
    t.match(error?.message, /set admin\.token .* or bind the admin address to 127\.0\.0\.1/);
  }
  for (const address of ['127.0.0.1:9901', 'localhost:9901', '[::1]:9901', '127.0.0.2:9901']) {
    const loaded = await loadFixture(t, { 'gateway.yaml': `version: 1\nadmin: { address: "${address}" }\napis: []\n` });
    t.notOk(loaded.diagnostics.some((d) => d.code === 'CONFIG_ADMIN_TOKEN'), `${address} is loopback`);
  }
  const withToken = await loadFixture(t, { 'gateway.yaml': `version: 1\nadmin: { address: "0.0.0.0:9901", token: abc }\napis: []\n` });
  t.notOk(withToken.diagnostics.some((d) => d.code === 'CONFIG_ADMIN_TOKEN'), 'with a token it is allowed');
  const emptyFromEnv = await loadFixture(t, { 'gateway.yaml': 'version: 1\nadmin: { address: "0.0.0.0:9901", token: "${GATEHOUSE_ADMIN_TOKEN:-}" }\napis: []\n' });
  t.ok(emptyFromEnv.diagnostics.some((d) => d.code === 'CONFIG_ADMIN_TOKEN'), 'a token that expands to nothing is no token');
});

t.test('/status: revision, generation, APIs and endpoint states, the certificate inventory, the last reload', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const gw = await startTestGateway(t, config(shop(backend.url) + pending(backend.url)), { certs: { 'shop-ca.crt': ca.certPem, 'spare.crt': leaf.certPem } });
  const status = json<StatusDocument>(await request(`${gw.adminUrl}/status`));

  t.equal(status.revision, gw.gateway.holder.current.config.revision);
  t.equal(status.generation, 1);
  t.ok(Date.now() - Date.parse(status.loadedAt) < 60_000, 'loadedAt is a recent ISO date');
  t.equal(status.lastReload, null, 'no reload yet');
  t.same(
    status.apis.map((a) => [a.name, a.version, a.context, a.endpoints.production.state, a.endpoints.sandbox?.state]),
    [
      ['Shop', 'v1', '/shop', 'ready', 'ready'],
      ['Later', 'v1', '/later', 'pending-certificate', undefined],
    ],
  );
  t.same((status.apis[1]!.endpoints.production as TargetSummary).pendingCertificates, ['later-ca']);

  const shopCa = status.certificates.find((c) => c.alias === 'shop-ca')!;
  t.ok(shopCa, 'the inventory lists shop-ca');
  t.same(shopCa.usedBy, ['Shop v1 production', 'Shop v1 sandbox']);
  const [certificate] = shopCa.certificates;
  t.equal(certificate!.subject, 'CN=Admin Test CA');
  t.equal(certificate!.fingerprint256, new (await import('node:crypto')).X509Certificate(ca.certPem).fingerprint256);
  t.equal(Date.parse(certificate!.notAfter) / 1000, notAfterSeconds(ca));
  t.ok(certificate!.daysLeft >= 363 && certificate!.daysLeft <= 365, `days left ${certificate!.daysLeft}`);
  const spare = status.certificates.find((c) => c.alias === 'spare')!;
  t.same(spare.usedBy, [], 'a file no endpoint uses is listed with no users');
  t.same(spare.certificates[0]!.subjectAltNames, ['IP Address:127.0.0.1']);

  // A broken file, reloaded through the admin address: 422 with the error's position, and /status keeps it.
  writeFileSync(path.join(gw.dir, 'gateway.yaml'), config(shop(backend.url) + '  - { name: Broken, context: /broken, version: v1, endpoints: { production: { url: "https://127.0.0.1:1", timeouts: { connect: soon } } } }\n'));
  const rejected = await request(`${gw.adminUrl}/reload`, { method: 'POST' });
  t.equal(rejected.status, 422);
  const body = json<{ result: string; errors: { file: string; line: number; message: string }[]; generation: number }>(rejected);
  t.equal(body.result, 'rejected');
  t.equal(body.generation, 1, 'generation 1 keeps serving');
  t.equal(body.errors[0]!.file, 'gateway.yaml');
  t.equal(body.errors[0]!.line, 7);
  const after = json<StatusDocument>(await request(`${gw.adminUrl}/status`));
  t.equal(after.lastReload?.result, 'rejected');
  t.same((after.lastReload?.errors as { line: number }[]).map((e) => e.line), [7]);
  t.equal(after.generation, 1);

  writeFileSync(path.join(gw.dir, 'gateway.yaml'), config(shop(backend.url)));
  const applied = await request(`${gw.adminUrl}/reload`, { method: 'POST' });
  t.equal(applied.status, 200);
  t.equal(json<{ result: string; generation: number }>(applied).generation, 2);
  t.equal(json<StatusDocument>(await request(`${gw.adminUrl}/status`)).lastReload?.result, 'applied');
  const unchanged = await request(`${gw.adminUrl}/reload`, { method: 'POST' });
  t.equal(json<{ result: string }>(unchanged).result, 'unchanged');
});

t.test('/metrics: requests, latency, backend errors, configuration and certificate expiry, parsed as Prometheus text', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const https = { listen: `listen:\n  http: "127.0.0.1:0"\n  https: { address: "127.0.0.1:0", certificate: gateway }\n` };
  const own = issue({ cn: 'gateway.test', sans: ['127.0.0.1'], keyIndex: 2, notAfter: daysFromNow(90) });
  const gw = await startTestGateway(
    t,
    config(shop(backend.url) + pending(backend.url)).replace('listen: { http: "127.0.0.1:0" }\n', https.listen),
    { certs: { 'shop-ca.crt': ca.certPem, 'gateway.crt': own.certPem, 'gateway.key': own.keyPem } },
  );
  for (let i = 0; i < 3; i++) t.equal((await request(`${gw.url}/shop/v1/items`)).status, 200);
  t.equal((await request(`${gw.url}/shop/v1/items`, { headers: { 'x-gatehouse-environment': 'sandbox' } })).status, 200);
  t.equal((await request(`${gw.url}/later/v1/x`)).status, 503);
  t.equal((await request(`${gw.url}/nowhere`)).status, 404);

  const response = await request(`${gw.adminUrl}/metrics`);
  t.match(response.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const samples = parsePrometheus(response.text);
  const value = (name: string, labels: Record<string, string> = {}) => {
    const found = select(samples, name, labels);
    return found.length === 1 ? found[0]!.value : undefined;
  };

  const shopProduction = { api: 'Shop', version: 'v1', endpoint: 'production' };
  t.equal(value('gatehouse_requests_total', { ...shopProduction, status_class: '2xx' }), 3);
  t.equal(value('gatehouse_requests_total', { api: 'Shop', endpoint: 'sandbox', status_class: '2xx' }), 1);
  t.equal(value('gatehouse_requests_total', { api: 'Later', status_class: '5xx' }), 1);
  t.equal(value('gatehouse_requests_total', { api: '-', status_class: '4xx' }), 1, 'unrouted requests under api="-"');
  t.equal(value('gatehouse_backend_errors_total', { api: 'Later', code: 'CERTIFICATE_PENDING' }), 1);
  t.equal(value('gatehouse_request_duration_seconds_count', shopProduction), 3);
  t.equal(value('gatehouse_request_duration_seconds_bucket', { ...shopProduction, le: '+Inf' }), 3);
  const buckets = select(samples, 'gatehouse_request_duration_seconds_bucket', shopProduction).map((s) => s.value);
  t.same([...buckets].sort((a, b) => a - b), buckets, 'buckets are cumulative');
  t.ok(value('gatehouse_request_duration_seconds_sum', shopProduction)! > 0);
  t.notOk(samples.some((s) => Object.values(s.labels).some((v) => v.includes('/items'))), 'no label holds a request path');

  t.equal(value('gatehouse_config_generation'), 1);
  t.equal(value('gatehouse_config_reloads_total', { result: 'applied' }), 0);
  t.ok(Math.abs(value('gatehouse_config_last_reload_success_timestamp_seconds')! - Date.now() / 1000) < 120);
  t.equal(value('gatehouse_certificate_not_after_seconds', { alias: 'shop-ca' }), notAfterSeconds(ca), "the trusted CA's notAfter");
  t.equal(select(samples, 'gatehouse_certificate_not_after_seconds', { alias: 'shop-ca' })[0]?.labels.fingerprint, new (await import('node:crypto')).X509Certificate(ca.certPem).fingerprint256);
  t.equal(value('gatehouse_certificate_not_after_seconds', { alias: 'gateway' }), notAfterSeconds(own), "the gateway's own certificate");
  t.ok(select(samples, 'process_resident_memory_bytes').length === 1, 'process metrics too');

  // A reload that rotates the trust: the gauge follows, the counters move.
  const next = createCA('Admin Test CA 2', { keyIndex: 3, notAfter: daysFromNow(700) });
  writeFileSync(path.join(gw.dir, 'certs', 'shop-ca.crt'), ca.certPem + next.certPem);
  t.equal((await request(`${gw.adminUrl}/reload`, { method: 'POST' })).status, 200);
  t.equal((await request(`${gw.adminUrl}/reload`, { method: 'POST' })).status, 200);
  const after = parsePrometheus((await request(`${gw.adminUrl}/metrics`)).text);
  t.equal(select(after, 'gatehouse_config_generation')[0]?.value, 2);
  t.equal(select(after, 'gatehouse_config_reloads_total', { result: 'applied' })[0]?.value, 1);
  t.equal(select(after, 'gatehouse_config_reloads_total', { result: 'unchanged' })[0]?.value, 1);
  t.same(
    select(after, 'gatehouse_certificate_not_after_seconds', { alias: 'shop-ca' })
      .map((s) => s.value)
      .sort(),
    [notAfterSeconds(ca), notAfterSeconds(next)].sort(),
    'both certificates of the rotated file',
  );
});

t.test('/readyz answers 503 while the gateway drains', async (t) => {
  let release: () => void = () => undefined;
  let arrived: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const atBackend = new Promise<void>((resolve) => (arrived = resolve));
  const backend = await startBackend(t, {
    certificate: leaf,
    handler: (_req, res) => {
      arrived();
      void held.then(() => res.end('late'));
    },
  });
  const gw = await startTestGateway(t, config(shop(backend.url)), { certs: { 'shop-ca.crt': ca.certPem } });
  const slow = request(`${gw.url}/shop/v1/slow`);
  await atBackend;
  const stopping = gw.gateway.stop();
  const readyz = await request(`${gw.adminUrl}/readyz`);
  t.equal(readyz.status, 503);
  t.equal(readyz.text, 'stopping\n');
  t.equal((await request(`${gw.adminUrl}/healthz`)).status, 200, 'still alive');
  release();
  t.equal((await slow).text, 'late', 'the request in flight finished');
  await stopping;
});

t.test('certificate expiry: a warning within warnBefore, an error once expired, at start and then daily', async (t) => {
  const soon = createCA('Expiring CA', { keyIndex: 2, notAfter: daysFromNow(10) });
  const expired = createCA('Expired CA', { keyIndex: 3, notBefore: daysFromNow(-30), notAfter: daysFromNow(-2) });
  const gw = await startTestGateway(
    t,
    `version: 1
certs: { warnBefore: 30d, expired: warn }
apis:
  - { name: Soon, context: /soon, version: v1, endpoints: { production: { url: "https://127.0.0.1:1", certificate: soon } } }
  - { name: Gone, context: /gone, version: v1, endpoints: { production: { url: "https://127.0.0.1:1", certificate: gone } } }
  - { name: Fine, context: /fine, version: v1, endpoints: { production: { url: "https://127.0.0.1:1", certificate: fine } } }
`,
    { certs: { 'soon.crt': soon.certPem, 'gone.crt': expired.certPem, 'fine.crt': ca.certPem } },
    { expiryCheckIntervalMs: 150 },
  );
  const warning = await gw.logs.waitFor((l) => l.alias === 'soon');
  t.equal(warning.level, 40, 'warn level');
  t.ok(warning.daysLeft === 9 || warning.daysLeft === 10, `days left ${String(warning.daysLeft)}`);
  t.same(warning.usedBy, ['Soon v1 production']);
  t.match(warning.msg, /certificate "soon" \(CN=Expiring CA\) expires on .* renew it/);
  const error = await gw.logs.waitFor((l) => l.alias === 'gone');
  t.equal(error.level, 50, 'error level once expired');
  t.match(error.msg, /expired on/);
  t.notOk(gw.logs.find((l) => l.alias === 'fine'), 'a certificate far from expiry is not logged');
  const count = () => gw.logs.lines.filter((l) => l.alias === 'soon').length;
  const first = count();
  await gw.logs.waitFor(() => count() > first, 5_000);
  t.ok(count() > first, 'logged again at the next daily check');
  t.notOk(gw.logs.find((l) => l.code === 'CERT_EXPIRING'), 'not twice: the expiry line replaces the load warning');
});
