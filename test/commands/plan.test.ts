// gatehouse plan: against a running gateway's /status, against the version committed in git, and
// against nothing. The command runs in this process with captured output; the gateway and git
// are real.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import t from 'tap';
import { runInProcess } from '../helpers/cli.js';
import { planCommand } from '../../src/commands/plan.js';
import { startBackend } from '../helpers/backend.js';
import { request } from '../helpers/client.js';
import { startTestGateway } from '../helpers/gateway.js';
import { createCA, daysFromNow, issue } from '../helpers/pki.js';

const ca = createCA('Plan Test CA', { keyIndex: 0 });
const nextCa = createCA('Plan Test CA 2027', { keyIndex: 2, notAfter: daysFromNow(500) });
const leaf = issue({ cn: 'plan.test', sans: ['127.0.0.1'], issuer: ca, keyIndex: 1 });

const plan = (args: string[], cwd: string, env: Record<string, string> = {}) => runInProcess(planCommand, args, cwd, env);

const config = (apis: string, admin = '') => `version: 1
listen: { http: "127.0.0.1:0" }
admin: { address: "127.0.0.1:0"${admin} }
reload: { interval: 10m }
apis:
${apis}`;
const shop = (url: string, certificate = 'shop-ca', socket = '30s') =>
  `  - { name: Shop, context: /shop, version: v1, endpoints: { production: { url: "${url}", certificate: ${certificate}, timeouts: { socket: ${socket} } } } }\n`;
const orders = (url: string) => `  - { name: Orders, context: /orders, version: v2, endpoints: { production: { url: "${url}", certificate: shop-ca } } }\n`;

t.test('--against a running gateway: a new API and a certificate rotation, shown before they are applied', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const gw = await startTestGateway(t, config(shop(backend.url)), { certs: { 'shop-ca.crt': ca.certPem } });

  const same = await plan(['--against', gw.adminUrl], gw.dir);
  t.equal(same.code, 0);
  t.match(same.stdout, /No changes/);

  writeFileSync(path.join(gw.dir, 'certs', 'shop-ca-2027.crt'), nextCa.certPem);
  writeFileSync(path.join(gw.dir, 'gateway.yaml'), config(shop(backend.url, '[shop-ca, shop-ca-2027]', '60s') + orders(backend.url)));
  const result = await plan(['--against', gw.adminUrl], gw.dir);
  t.equal(result.code, 0, result.stderr);
  const out = result.stdout;
  t.match(out, `compared with the gateway at ${gw.adminUrl} (generation 1, revision ${gw.gateway.holder.current.config.revision.slice(0, 12)})`);
  t.match(out, /APIs\n {2}\+ Orders v2 {2}\(context \/orders\)/);
  t.match(out, /Endpoints\n {2}\+ Orders v2 production {2}https:\/\/127\.0\.0\.1:\d+\n {6}trusts shop-ca: CN=Plan Test CA/);
  const fingerprint = new X509Certificate(nextCa.certPem).fingerprint256;
  t.match(out, /~ Shop v1 production\n/);
  t.match(out, new RegExp(`trust:\\n {8}\\+ shop-ca-2027: CN=Plan Test CA 2027, expires \\d{4}-\\d\\d-\\d\\d \\((499|500) days left\\), SHA-256 ${fingerprint}`));
  t.match(out, /timeouts\.socketMs: 30000 → 60000/);
  t.match(out, /certificates: \["shop-ca"\] → \["shop-ca","shop-ca-2027"\]/);
  t.match(out, /Certificates folder\n {2}\+ shop-ca-2027\.crt {2}CN=Plan Test CA 2027/);
  t.match(out, /APIs: 1 to add, 0 to remove, 0 to change; endpoints: 1 to add, 0 to remove, 1 to change; certificate files: 1 to add, 0 to remove, 0 to change\./);

  t.equal(gw.gateway.holder.current.generation, 1, 'plan changed nothing on the gateway');
  t.equal((await request(`${gw.url}/orders/v2/`)).status, 404, 'the new API is not served yet');

  const asJson = JSON.parse((await plan(['--against', gw.adminUrl, '--format', 'json'], gw.dir)).stdout) as { changed: boolean; changes: { apis: { added: string[] } } };
  t.equal(asJson.changed, true);
  t.same(asJson.changes.apis.added, ['Orders v2']);
});

t.test('--against a gateway with a token: the token from the environment, a clear error without it', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const gw = await startTestGateway(t, config(shop(backend.url), ', token: "${T}"'), { certs: { 'shop-ca.crt': ca.certPem } }, { env: { T: 'plan-token' } });
  const refused = await plan(['--against', gw.adminUrl], gw.dir, { T: 'plan-token' });
  t.equal(refused.code, 1);
  t.match(refused.stderr, /needs the admin token: pass --token or set GATEHOUSE_ADMIN_TOKEN/);
  const allowed = await plan(['--against', gw.adminUrl], gw.dir, { T: 'plan-token', GATEHOUSE_ADMIN_TOKEN: 'plan-token' });
  t.equal(allowed.code, 0, allowed.stderr);
  t.match(allowed.stdout, /No changes/);
});

t.test('--against an address where nothing listens', async (t) => {
  const dir = t.testdir({ 'gateway.yaml': config(shop('https://127.0.0.1:1')), certs: { 'shop-ca.crt': ca.certPem } });
  const result = await plan(['--against', 'http://127.0.0.1:1'], dir);
  t.equal(result.code, 1);
  t.match(result.stderr, /cannot reach the gateway's admin address at http:\/\/127\.0\.0\.1:1/);
});

t.test('without --against: the version committed in git, or nothing', async (t) => {
  // Outside this repository (tap's fixtures live inside it): a folder of its own in the system's temporary folder.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-plan-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'certs'));
  writeFileSync(path.join(dir, 'gateway.yaml'), config(shop('https://127.0.0.1:9443')));
  writeFileSync(path.join(dir, 'certs', 'shop-ca.crt'), ca.certPem);
  const created = await plan([], dir);
  t.equal(created.code, 0);
  t.match(created.stdout, /not in a git repository\): everything would be created/);
  t.match(created.stdout, /\+ Shop v1/);

  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args], { cwd: dir, stdio: 'pipe' });
  git('init', '-q');
  const uncommitted = await plan([], dir);
  t.match(uncommitted.stdout, /gateway\.yaml is not committed yet\): everything would be created/);

  git('add', '.');
  git('commit', '-qm', 'first');
  t.match((await plan([], dir)).stdout, /No changes/);

  writeFileSync(path.join(dir, 'certs', 'shop-ca.crt'), nextCa.certPem);
  writeFileSync(path.join(dir, 'gateway.yaml'), config(shop('https://127.0.0.1:9444')));
  const changed = await plan([], dir);
  t.match(changed.stdout, /as committed in git \(HEAD, [0-9a-f]+\)/);
  t.match(changed.stdout, /url: "https:\/\/127\.0\.0\.1:9443" → "https:\/\/127\.0\.0\.1:9444"/);
  t.match(changed.stdout, /trust:\n {8}\+ shop-ca: CN=Plan Test CA 2027.*\n {8}- shop-ca: CN=Plan Test CA,/);
  t.match(changed.stdout, /~ shop-ca\.crt\n {6}before: CN=Plan Test CA,.*\n {6}after: {2}CN=Plan Test CA 2027/);
});

t.test('a file with errors: no plan, the errors as validate prints them', async (t) => {
  const dir = t.testdir({ 'gateway.yaml': 'version: 1\napis:\n  - { name: X, context: /x, version: v1, endpoints: { production: { url: "https://a", timeout: 1 } } }\n' });
  const result = await plan([], dir);
  t.equal(result.code, 1);
  t.match(result.stderr, /gateway\.yaml:3:\d+/);
  t.match(result.stderr, /has errors; fix them first/);
});
