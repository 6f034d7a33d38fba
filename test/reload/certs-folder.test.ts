// The certificates folder going wrong under a running gateway: renamed away, emptied, replaced
// by a file. A reload that would leave running endpoints with nothing to trust is rejected and
// the running snapshot keeps serving; once the files are back, /status and the metrics say the
// files match what is served again, and still tell when and why the rejection happened.
// Reloads are driven by reloadNow (as SIGHUP does), with a long interval so that the watcher's
// own reloads cannot interleave.
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import type { StatusDocument } from '../../src/admin/status.js';
import { startBackend } from '../helpers/backend.js';
import { json, request } from '../helpers/client.js';
import { startTestGateway } from '../helpers/gateway.js';
import type { TestGateway } from '../helpers/gateway.js';
import { createCA, issue } from '../helpers/pki.js';
import { UNPRIVILEGED, readableWorkspace, spawnGateway } from '../helpers/process.js';

const ca = createCA('Folder Test CA', { keyIndex: 0 });
const leaf = issue({ cn: 'folder.test', sans: ['127.0.0.1'], issuer: ca, keyIndex: 1 });

const config = (url: string, certificate = 'shop-ca') => `version: 1
listen: { http: "127.0.0.1:0" }
admin: { address: "127.0.0.1:0" }
reload: { interval: 1h }
apis:
  - name: Shop
    context: /shop
    version: v1
    endpoints:
      production: { url: "${url}", certificate: ${certificate} }
`;

const status = async (gw: TestGateway) => json<StatusDocument>(await request(`${gw.adminUrl}/status`));
const successful = async (gw: TestGateway) => /^gatehouse_config_last_reload_successful (\d)$/m.exec((await request(`${gw.adminUrl}/metrics`)).text)?.[1];

async function running(t: Test, certificate?: string) {
  const backend = await startBackend(t, { certificate: leaf });
  const gw = await startTestGateway(t, config(backend.url, certificate), { certs: { 'shop-ca.crt': ca.certPem, 'shop-b.crt': ca.certPem } });
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200, 'served before');
  return { gw, backend, certs: path.join(gw.dir, 'certs') };
}

t.test('a folder renamed away: rejected (CERT_WITHDRAWN), still served; renamed back: /status says the files match again', async (t) => {
  const { gw, certs } = await running(t);
  renameSync(certs, `${certs}.away`);
  const rejected = await gw.gateway.reloader.reloadNow('test');
  t.equal(rejected.kind, 'rejected');
  t.match(rejected.kind === 'rejected' ? rejected.diagnostics : [], [
    { code: 'CERT_DIRECTORY', severity: 'warning' },
    {
      code: 'CERT_WITHDRAWN',
      severity: 'error',
      line: 10,
      path: 'apis[0].endpoints.production.certificate',
      message:
        'API "Shop" version v1, production endpoint would lose every certificate it trusts: shop-ca.crt is no longer in certs/, and it would answer 503 CERTIFICATE_PENDING; the running configuration keeps serving. Restore the file (or the folder or its mount); to stop trusting this backend, remove the alias from the configuration instead',
    },
  ]);
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200, 'the running snapshot keeps serving');
  t.equal(gw.gateway.holder.current.generation, 1);
  t.equal((await status(gw)).lastReload?.result, 'rejected');
  t.equal(await successful(gw), '0', 'gatehouse_config_last_reload_successful 0 while the files are refused');
  await gw.logs.waitFor((l) => l.msg === 'configuration rejected; generation 1 keeps serving');

  renameSync(`${certs}.away`, certs);
  const back = await gw.gateway.reloader.reloadNow('test');
  t.equal(back.kind, 'unchanged', 'the files are what is served again');
  const now = await status(gw);
  t.match(now.lastReload, { result: 'unchanged', files: 'the files match the configuration served' });
  t.match(now.lastRejection, { reason: 'test', current: false, errors: [{ code: 'CERT_WITHDRAWN', line: 10 }] }, 'when and why the last rejection happened');
  t.ok(typeof now.lastRejection?.at === 'string');
  t.equal(await successful(gw), '1', 'and the metric clears');
  t.ok(gw.logs.find((l) => l.msg === 'the files match the configuration served again (generation 1)'), 'the log says so');
});

t.test('a folder emptied: rejected; a file where the folder was: rejected (CERT_DIRECTORY is an error)', async (t) => {
  const { gw, certs } = await running(t);
  mkdirSync(`${certs}.aside`);
  renameSync(path.join(certs, 'shop-ca.crt'), path.join(`${certs}.aside`, 'shop-ca.crt'));
  const emptied = await gw.gateway.reloader.reloadNow('test');
  t.equal(emptied.kind, 'rejected');
  t.same(emptied.kind === 'rejected' ? emptied.diagnostics.map((d) => d.code) : [], ['CERT_PENDING', 'CERT_WITHDRAWN'], 'the alias has no file, and that is refused');

  rmSync(certs, { recursive: true });
  writeFileSync(certs, 'not a folder\n');
  const replaced = await gw.gateway.reloader.reloadNow('test');
  t.equal(replaced.kind, 'rejected');
  t.match(replaced.kind === 'rejected' ? replaced.diagnostics : [], [{ code: 'CERT_DIRECTORY', severity: 'error', message: /^the certificates folder cannot be read: a part of the path is not a folder/ }]);
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200, 'still served from memory');
});

t.test('not a withdrawal: one alias of a rotation list removed, or a new alias whose file is not there yet', async (t) => {
  const { gw, certs, backend } = await running(t, '[shop-ca, shop-b]');
  rmSync(path.join(certs, 'shop-ca.crt'));
  const rotated = await gw.gateway.reloader.reloadNow('test');
  t.equal(rotated.kind, 'applied', 'the endpoint still trusts shop-b');
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200);

  writeFileSync(path.join(gw.dir, 'gateway.yaml'), config(backend.url, 'shop-2027'));
  const renamed = await gw.gateway.reloader.reloadNow('test');
  t.equal(renamed.kind, 'applied', 'an alias the configuration newly names may get its file later');
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 503);
});

t.test('as the gateway user: a folder unreadable for a moment (chmod 000) is rejected and every request still served', async (t) => {
  // The black-box case: chmod 000 on certs/ used to give 503 from every endpoint until a SIGHUP.
  // Root reads through chmod 000, so the gateway runs as an unprivileged user when the tests are root.
  const backend = await startBackend(t, { certificate: leaf });
  const dir = readableWorkspace(t, { 'gateway.yaml': config(backend.url), 'certs/shop-ca.crt': ca.certPem });
  const certs = path.join(dir, 'certs');
  const gw = await spawnGateway(t, dir, [], [], UNPRIVILEGED);
  t.teardown(() => chmodSync(certs, 0o755));
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200);

  chmodSync(certs, 0o000);
  gw.child.kill('SIGHUP');
  const rejected = await gw.logs.waitFor((l) => l.msg === 'configuration rejected; generation 1 keeps serving');
  t.match((rejected.errors as string[]).join('\n'), /^certs  the certificates folder cannot be read: permission denied; fix its permissions \(the gateway's user must list and read it\)  \[CERT_DIRECTORY\]$/m);
  const statuses = await Promise.all(Array.from({ length: 15 }, () => request(`${gw.url}/shop/v1/`).then((r) => r.status)));
  t.same(statuses, Array(15).fill(200), '15 of 15 requests served while the folder cannot be read');

  chmodSync(certs, 0o755);
  gw.child.kill('SIGHUP');
  await gw.logs.waitFor((l) => l.msg === 'the files match the configuration served again (generation 1)');
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200);
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0);
});
