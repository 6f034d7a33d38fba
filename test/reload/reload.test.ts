// Live reload (docs/reload.md) against real files, real watchers and real backends. Every wait is for an
// `applied`, `rejected` or `unchanged` event with a deadline; nothing sleeps and hopes.
import { once } from 'node:events';
import { mkdirSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import type https from 'node:https';
import path from 'node:path';
import t from 'tap';
import { startBackend } from '../helpers/backend.js';
import { json, request } from '../helpers/client.js';
import { nextReload, startTestGateway } from '../helpers/gateway.js';
import { createCA, daysFromNow, issue } from '../helpers/pki.js';
import { until } from '../helpers/wait.js';

const ca = createCA('Reload Test CA', { keyIndex: 0 });
const leaf = issue({ cn: 'reload.test', sans: ['127.0.0.1'], issuer: ca, keyIndex: 1 });
const otherCA = createCA('Reload Test Other CA', { keyIndex: 2 });
const otherLeaf = issue({ cn: 'reload.test', sans: ['127.0.0.1'], issuer: otherCA, keyIndex: 3 });

const INTERVAL_MS = 300;
const config = (apis: string, extra = '') => `version: 1
listen: { http: "127.0.0.1:0" }
admin: { address: "127.0.0.1:0" }
reload: { interval: ${INTERVAL_MS}ms }
${extra}apis:
${apis}`;
const api = (name: string, url: string, more = '') => `  - { name: ${name}, context: /${name.toLowerCase()}, version: v1, endpoints: { production: { url: "${url}"${more} } } }\n`;
const code = (res: { text: string }) => (JSON.parse(res.text) as { error?: { code: string } }).error?.code;

t.test('a pending alias: the certificate file dropped in is served within one interval', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const gw = await startTestGateway(t, config(api('Shop', backend.url, ', certificate: shop-ca')));
  t.equal(code(await request(`${gw.url}/shop/v1/`)), 'CERTIFICATE_PENDING');
  const dropped = Date.now();
  writeFileSync(path.join(gw.dir, 'certs', 'shop-ca.crt'), ca.certPem);
  const applied = await nextReload(gw.gateway, 'applied');
  const took = Date.now() - dropped;
  t.ok(took < INTERVAL_MS + 2_000, `applied ${took} ms after the drop (interval ${INTERVAL_MS} ms)`);
  t.same(applied.changes.certificates.added.map((c) => c.alias), ['shop-ca']);
  t.same(applied.changes.endpoints.changed.map((c) => c.name), ['Shop v1 production']);
  t.equal(applied.generation, 2);
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200);
  t.ok(gw.logs.find((l) => l.msg === 'configuration applied' && l.generation === 2), 'logged with the generation');
});

t.test('a new API added to the YAML is served; one removed is not', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(api('One', backend.url)));
  t.equal(code(await request(`${gw.url}/two/v1/`)), 'NO_ROUTE');
  writeFileSync(path.join(gw.dir, 'gateway.yaml'), config(api('Two', backend.url)));
  const applied = await nextReload(gw.gateway, 'applied');
  t.same(applied.changes.apis, { added: ['Two v1'], removed: ['One v1'], changed: [] });
  t.equal((await request(`${gw.url}/two/v1/`)).status, 200);
  t.equal(code(await request(`${gw.url}/one/v1/`)), 'NO_ROUTE');
});

t.test('broken YAML is rejected with its line and column; the old configuration keeps serving; the fix applies', async (t) => {
  const backend = await startBackend(t);
  const good = config(api('Shop', backend.url));
  const gw = await startTestGateway(t, good);
  const file = path.join(gw.dir, 'gateway.yaml');
  writeFileSync(file, good.replace('  - { name: Shop', ' - name: [Shop'));
  const rejected = await nextReload(gw.gateway, 'rejected');
  t.match(rejected.diagnostics[0], { code: 'CONFIG_SYNTAX', line: 6 });
  const logged = await gw.logs.waitFor((l) => l.msg === 'configuration rejected; generation 1 keeps serving');
  t.match((logged.errors as string[])[0], /gateway\.yaml:6:\d+  the \[ \] list opened on line 6 \(column \d+\) is not closed: end it with \], and indent the lines inside it further than "name"  \[CONFIG_SYNTAX\]$/);
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200, 'generation 1 still serves');
  t.equal(gw.gateway.holder.current.generation, 1);

  writeFileSync(file, config(api('Fixed', backend.url)));
  await nextReload(gw.gateway, 'applied');
  t.equal((await request(`${gw.url}/fixed/v1/`)).status, 200, 'the fix applies');
});

t.test('an unknown key, a garbage .crt and an expired certificate each leave the old snapshot serving', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const good = config(api('Shop', backend.url, ', certificate: shop-ca'));
  const gw = await startTestGateway(t, good, { certs: { 'shop-ca.crt': ca.certPem } });
  const file = path.join(gw.dir, 'gateway.yaml');
  const cert = path.join(gw.dir, 'certs', 'shop-ca.crt');
  const expired = issue({ cn: 'old', notBefore: daysFromNow(-30), notAfter: daysFromNow(-1), keyIndex: 1 });
  const cases: [string, () => void, RegExp][] = [
    ['an unknown key', () => writeFileSync(file, good.replace('reload: {', 'relaod: {')), /\[CONFIG_UNKNOWN_KEY\]$/],
    ['a garbage .crt', () => writeFileSync(cert, 'garbage'), /certs\/shop-ca\.crt  not a usable certificate file: .*\[CERT_PARSE\]$/],
    ['an expired referenced certificate', () => writeFileSync(cert, expired.certPem), /^certs\/shop-ca\.crt  certificate "CN=old" expired on .*\[CERT_EXPIRED\]$/m],
  ];
  for (const [name, breakIt, expected] of cases) {
    breakIt();
    const rejected = await nextReload(gw.gateway, 'rejected');
    t.match(rejected.diagnostics.map((d) => `${path.relative(gw.dir, d.file)}${d.line ? `:${d.line}:${d.column}` : ''}  ${d.path ? d.path + ': ' : ''}${d.message}  [${d.code}]`).join('\n'), expected, name);
    t.equal((await request(`${gw.url}/shop/v1/`)).status, 200, `${name}: the old configuration still serves`);
    writeFileSync(file, good);
    writeFileSync(cert, ca.certPem);
    const back = await Promise.race([nextReload(gw.gateway, 'unchanged'), nextReload(gw.gateway, 'applied')]);
    t.ok(back, `${name}: repaired`);
  }
  t.equal(gw.gateway.holder.current.generation, 1, 'nothing was ever half-applied');
});

t.test("a Kubernetes-style ..data swap of the certificates folder is picked up", async (t) => {
  const backend = await startBackend(t, { certificate: otherLeaf });
  const gw = await startTestGateway(t, config(api('Shop', backend.url, ', certificate: ca')), { certs: {} });
  const certs = path.join(gw.dir, 'certs');
  // The layout the kubelet writes for a mounted Secret.
  mkdirSync(path.join(certs, '..2026_11_23_10_00_00.1'));
  writeFileSync(path.join(certs, '..2026_11_23_10_00_00.1', 'ca.crt'), ca.certPem);
  symlinkSync('..2026_11_23_10_00_00.1', path.join(certs, '..data'));
  symlinkSync('..data/ca.crt', path.join(certs, 'ca.crt'));
  await nextReload(gw.gateway, 'applied');
  t.equal(code(await request(`${gw.url}/shop/v1/`)), 'BACKEND_TLS_UNTRUSTED', 'the first Secret holds the wrong CA');

  // The update: a new timestamped folder, a temporary link, renamed over ..data, old folder removed.
  mkdirSync(path.join(certs, '..2026_11_23_11_00_00.2'));
  writeFileSync(path.join(certs, '..2026_11_23_11_00_00.2', 'ca.crt'), otherCA.certPem);
  symlinkSync('..2026_11_23_11_00_00.2', path.join(certs, '..data_tmp'));
  renameSync(path.join(certs, '..data_tmp'), path.join(certs, '..data'));
  rmSync(path.join(certs, '..2026_11_23_10_00_00.1'), { recursive: true });
  const applied = await nextReload(gw.gateway, 'applied');
  t.same(applied.changes.certificates.changed.map((c) => c.after.alias), ['ca']);
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200, 'the swapped Secret is trusted');
});

t.test('a configuration mounted from a Kubernetes ConfigMap (gateway.yaml -> ..data/gateway.yaml) follows ..data swaps', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(api('One', backend.url)));
  const swap = async (stamp: string, text: string) => {
    mkdirSync(path.join(gw.dir, stamp));
    writeFileSync(path.join(gw.dir, stamp, 'gateway.yaml'), text);
    symlinkSync(stamp, path.join(gw.dir, '..data_tmp'));
    renameSync(path.join(gw.dir, '..data_tmp'), path.join(gw.dir, '..data'));
  };
  // The first mount: gateway.yaml becomes the kubelet's link into ..data.
  await swap('..2026_11_23_10_00_00.1', config(api('One', backend.url) + api('Two', backend.url)));
  symlinkSync('..data/gateway.yaml', path.join(gw.dir, 'gateway.yaml.link'));
  renameSync(path.join(gw.dir, 'gateway.yaml.link'), path.join(gw.dir, 'gateway.yaml'));
  t.same((await nextReload(gw.gateway, 'applied')).changes.apis.added, ['Two v1']);

  // An update of the ConfigMap: only ..data moves; gateway.yaml stays the same link.
  await swap('..2026_11_23_11_00_00.2', config(api('One', backend.url) + api('Three', backend.url)));
  rmSync(path.join(gw.dir, '..2026_11_23_10_00_00.1'), { recursive: true });
  const applied = await nextReload(gw.gateway, 'applied');
  t.same(applied.changes.apis, { added: ['Three v1'], removed: ['Two v1'], changed: [] });
  t.equal((await request(`${gw.url}/three/v1/`)).status, 200);
});

t.test('an editor-style save (write a temporary file, rename it over the original) is picked up', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(api('One', backend.url)));
  const temporary = path.join(gw.dir, '.gateway.yaml.swp');
  writeFileSync(temporary, config(api('One', backend.url) + api('Two', backend.url)));
  renameSync(temporary, path.join(gw.dir, 'gateway.yaml'));
  const applied = await nextReload(gw.gateway, 'applied');
  t.same(applied.changes.apis.added, ['Two v1']);
});

t.test('unchanged content (a touch, a rewrite of the same bytes) swaps nothing', async (t) => {
  const backend = await startBackend(t);
  const text = config(api('One', backend.url));
  const gw = await startTestGateway(t, text);
  const file = path.join(gw.dir, 'gateway.yaml');
  const now = new Date();
  utimesSync(file, now, now);
  writeFileSync(file, text);
  const unchanged = await nextReload(gw.gateway, 'unchanged');
  t.equal(unchanged.reason, 'files changed');
  t.equal(gw.gateway.holder.current.generation, 1);
  t.notOk(gw.logs.find((l) => l.msg === 'configuration applied'));
});

t.test('a burst of changes collapses into one reload of the latest state', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(api('V0', backend.url)));
  const file = path.join(gw.dir, 'gateway.yaml');
  for (let i = 1; i <= 5; i++) writeFileSync(file, config(api(`V${i}`, backend.url)));
  const applied = await nextReload(gw.gateway, 'applied');
  t.same(applied.changes.apis.added, ['V5 v1'], 'the latest state only');
  t.equal(applied.generation, 2, 'one reload');
});

t.test('reloadNow (SIGHUP, POST /reload) applies at once, even with a long interval', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(api('One', backend.url)).replace(`${INTERVAL_MS}ms`, '10m'));
  writeFileSync(path.join(gw.dir, 'gateway.yaml'), config(api('Two', backend.url)).replace(`${INTERVAL_MS}ms`, '10m'));
  const started = Date.now();
  const outcome = await gw.gateway.reloader.reloadNow('SIGHUP');
  t.equal(outcome.kind, 'applied');
  t.ok(Date.now() - started < 5_000, 'without waiting for the interval');
  t.equal((await request(`${gw.url}/two/v1/`)).status, 200);
});

t.test('moving a listener is refused: the running configuration keeps serving', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(api('One', backend.url)));
  writeFileSync(path.join(gw.dir, 'gateway.yaml'), config(api('One', backend.url)).replace('http: "127.0.0.1:0"', 'http: "127.0.0.1:18081"'));
  const outcome = await gw.gateway.reloader.reloadNow('test');
  t.equal(outcome.kind, 'rejected');
  t.match(outcome.kind === 'rejected' ? outcome.diagnostics : [], [
    {
      code: 'CONFIG_RESTART_REQUIRED',
      path: 'listen.http',
      message: 'is 127.0.0.1:18081 but the gateway listens on 127.0.0.1:0; a listener\'s address changes only with a restart (revert it to reload the rest, or restart the gateway)',
    },
  ]);
});

t.test('rotation: [old, new] keeps serving while the backend switches certificates; removing old retires that pool only', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const other = await startBackend(t, { certificate: leaf });
  const gw = await startTestGateway(t, config(api('Shop', backend.url, ', certificate: [ca-2025]') + api('Other', other.url, ', certificate: ca-2025')), {
    certs: { 'ca-2025.crt': ca.certPem, 'ca-2026.crt': otherCA.certPem },
  });
  const file = path.join(gw.dir, 'gateway.yaml');
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200);

  writeFileSync(file, config(api('Shop', backend.url, ', certificate: [ca-2025, ca-2026]') + api('Other', other.url, ', certificate: ca-2025')));
  await nextReload(gw.gateway, 'applied');
  // The backend switches to the new certificate; new connections see it.
  (backend.server as https.Server).setSecureContext({ cert: otherLeaf.certPem, key: otherLeaf.keyPem });
  backend.server.closeAllConnections();
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200, 'the new certificate is trusted during the rotation');

  t.equal((await request(`${gw.url}/other/v1/`)).status, 200);
  const otherHandshakes = other.handshakes();
  writeFileSync(file, config(api('Shop', backend.url, ', certificate: [ca-2026]') + api('Other', other.url, ', certificate: ca-2025')));
  const applied = await nextReload(gw.gateway, 'applied');
  t.same(applied.changes.endpoints.changed.map((c) => c.name), ['Shop v1 production']);
  t.equal(applied.pools.retired, 1, "only the rotated endpoint's pool is retired");
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200);
  t.equal((await request(`${gw.url}/other/v1/`)).status, 200);
  t.equal(other.handshakes(), otherHandshakes, 'the untouched endpoint kept its connections');
});

t.test("across a reload, unchanged endpoints keep their connections; a changed endpoint's old pool closes after its request", async (t) => {
  let release: (() => void) | undefined;
  const slow = await startBackend(t, {
    certificate: leaf,
    handler: (req, res) => {
      if (req.url !== '/slow') return void res.end('fast');
      res.writeHead(200);
      res.write('started ');
      release = () => res.end('finished');
    },
  });
  const steady = await startBackend(t, { certificate: leaf });
  const apis = (socket: string) => api('Slow', slow.url, `, certificate: ca, timeouts: { socket: ${socket} }`) + api('Steady', steady.url, ', certificate: ca');
  const gw = await startTestGateway(t, config(apis('30s')), { certs: { 'ca.crt': ca.certPem } });
  t.equal((await request(`${gw.url}/steady/v1/`)).status, 200);
  const steadyHandshakes = steady.handshakes();
  const oldPool = gw.gateway.holder.current.apis[0]!.production.targets[0]!.pool!;
  const steadyBefore = gw.gateway.holder.current.apis[1]!;

  const inFlight = request(`${gw.url}/slow/v1/slow`);
  await until(() => release !== undefined, 'the slow backend to receive the request');
  writeFileSync(path.join(gw.dir, 'gateway.yaml'), config(apis('31s')));
  const applied = await nextReload(gw.gateway, 'applied');
  t.same(applied.pools, { kept: 1, opened: 1, retired: 1 });
  // What did not change is not rebuilt (config/delta.ts): the same configuration object and runtime.
  t.equal(gw.gateway.holder.current.apis[1], steadyBefore, 'the unchanged API keeps its runtime');
  t.equal(gw.gateway.holder.current.config.apis[1], steadyBefore.config, 'and its configuration object');
  t.same(applied.changes.endpoints.changed.map((c) => c.name), ['Slow v1 production'], 'the log names the changed endpoint only');
  t.not(gw.gateway.holder.current.apis[0]!.production.targets[0]!.pool, oldPool, 'the changed endpoint has a new pool');
  t.equal(oldPool.closed, true, 'the old pool accepts no new request');
  t.equal(oldPool.destroyed, false, 'but is not destroyed: its request is in flight');

  const retired = once(gw.gateway.reloader, 'retired', { signal: AbortSignal.timeout(10_000) });
  release!();
  const res = await inFlight;
  t.equal(res.status, 200);
  t.equal(res.text, 'started finished', 'the request in flight finished on the old pool');
  const [{ pools }] = (await retired) as [{ pools: number }];
  t.equal(pools, 1, 'then the old pool closed');
  t.equal((await request(`${gw.url}/slow/v1/fast`)).text, 'fast', 'new requests use the new pool');
  t.equal((await request(`${gw.url}/steady/v1/`)).status, 200);
  t.equal(steady.handshakes(), steadyHandshakes, 'the unchanged endpoint made no new TLS handshake');
});

t.test('preflight: enforce refuses a reload whose changed endpoint cannot handshake; warn applies and warns', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const good = (preflight: string, alias: string) => config(api('Shop', backend.url, `, certificate: ${alias}`), `reload: { interval: ${INTERVAL_MS}ms, preflight: ${preflight} }\n`).replace(`reload: { interval: ${INTERVAL_MS}ms }\n`, '');
  const gw = await startTestGateway(t, good('enforce', 'ca'), { certs: { 'ca.crt': ca.certPem, 'wrong.crt': otherCA.certPem } });
  const file = path.join(gw.dir, 'gateway.yaml');

  writeFileSync(file, good('enforce', 'wrong'));
  const rejected = await nextReload(gw.gateway, 'rejected');
  t.match(rejected.diagnostics, [
    {
      code: 'RELOAD_PREFLIGHT',
      severity: 'error',
      path: 'apis[0].endpoints.production',
      message: new RegExp(
        `^API "Shop" version v1, production endpoint: the handshake with ${backend.url.replace(/[.]/g, '\\.')} failed \\(BACKEND_TLS_UNTRUSTED\\): the backend presents "CN=reload\\.test" \\(issuer "CN=Reload Test CA"\\), which is issued by a CA this endpoint does not trust; this endpoint trusts certificate wrong\\. If it is the right certificate, capture it with \``,
      ),
    },
  ]);
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200, 'the old configuration still serves');

  writeFileSync(file, good('warn', 'wrong'));
  const applied = await nextReload(gw.gateway, 'applied');
  t.match(applied.diagnostics, [{ code: 'RELOAD_PREFLIGHT', severity: 'warning' }]);
  t.equal(code(await request(`${gw.url}/shop/v1/`)), 'BACKEND_TLS_UNTRUSTED', 'warn applied it anyway');
  t.ok(gw.logs.find((l) => l.level === 40 && String(l.msg).includes('[RELOAD_PREFLIGHT]')));
});

t.test('the configuration of each request is the snapshot it started with', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(api('Shop', `${backend.url}/v1`)));
  const before = gw.gateway.holder.current;
  writeFileSync(path.join(gw.dir, 'gateway.yaml'), config(api('Shop', `${backend.url}/v2`)));
  await nextReload(gw.gateway, 'applied');
  t.not(gw.gateway.holder.current, before);
  t.ok(Object.isFrozen(before.config), 'snapshots are immutable');
  t.equal(json<{ url: string }>(await request(`${gw.url}/shop/v1/x`)).url, '/v2/x');
});
