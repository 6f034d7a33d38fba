// Faults in the files an operator drops: half-written, empty, garbage, oversized,
// unreadable, or leading outside the certificates folder. Real files, the real watcher, a real
// gateway: each broken state is rejected by a reload that names the file and says why, and the
// running snapshot keeps serving before and after. Every wait is for a reload event with a
// deadline.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { MAX_CERTIFICATE_FILE_BYTES } from '../../src/certs/read.js';
import { MAX_CONFIG_FILE_BYTES, loadConfig } from '../../src/config/load.js';
import type { Diagnostic } from '../../src/diagnostics.js';
import type { ReloadOutcome } from '../../src/reload/reloader.js';
import { startBackend } from '../helpers/backend.js';
import { request } from '../helpers/client.js';
import { nextReload, startTestGateway } from '../helpers/gateway.js';
import type { TestGateway } from '../helpers/gateway.js';
import { createCA, issue } from '../helpers/pki.js';
import { loadFixture, oneApi } from '../helpers/workspace.js';

const ca = createCA('Faults Test CA', { keyIndex: 0 });
const leaf = issue({ cn: 'faults.test', sans: ['127.0.0.1'], issuer: ca, keyIndex: 1 });
const listenerLeaf = issue({ cn: 'gateway.test', sans: ['127.0.0.1'], keyIndex: 2 });

/** Root reads any file whatever its mode: a chmod 000 file proves nothing then. */
const ROOT = process.getuid?.() === 0;
const WINDOWS = process.platform === 'win32';

const INTERVAL_MS = 200;
const config = (url: string) => `version: 1
listen: { http: "127.0.0.1:0" }
admin: { address: "127.0.0.1:0" }
reload: { interval: ${INTERVAL_MS}ms }
apis:
  - { name: Shop, context: /shop, version: v1, endpoints: { production: { url: "${url}", certificate: shop-ca } } }
`;

/** As `gatehouse validate` prints a diagnostic, paths relative to the gateway's folder. */
const render = (dir: string, d: Diagnostic) =>
  `${path.relative(dir, d.file)}${d.line ? `:${d.line}:${d.column}` : ''}  ${d.path ? d.path + ': ' : ''}${d.message}  [${d.code}]`;

/** The next reload outcome of any kind. */
const nextOutcome = (gw: TestGateway): Promise<ReloadOutcome> =>
  Promise.race([nextReload(gw.gateway, 'applied'), nextReload(gw.gateway, 'rejected'), nextReload(gw.gateway, 'unchanged')]);

/**
 * Replaces `target` in one step (written beside the gateway's folder, where the watcher ignores
 * it, then renamed over), so that a reload never reads a state other than the one under test.
 */
function put(gw: TestGateway, target: string, bytes: string | Buffer, mode = 0o644): void {
  const staging = path.join(gw.dir, `.staging-${path.basename(target)}`);
  writeFileSync(staging, bytes, { mode });
  chmodSync(staging, mode); // the umask may have taken bits away
  renameSync(staging, target);
}

interface FaultCase {
  readonly name: string;
  readonly bytes: Buffer | string;
  readonly mode?: number;
  readonly skip?: string | false;
  /** The rejection, as `gatehouse validate` would print it. */
  readonly expected: RegExp;
}

/** Breaks `target` with each case in turn; repairs it (back to `good`) between cases. */
async function breakAndRepair(t: Test, gw: TestGateway, target: string, good: string, cases: readonly FaultCase[]): Promise<void> {
  const shop = `${gw.url}/shop/v1/`;
  for (const c of cases) {
    if (c.skip) {
      t.pass(`${c.name}: skipped, ${c.skip}`, { skip: c.skip });
      continue;
    }
    t.equal((await request(shop)).status, 200, `${c.name}: serving before`);
    const rejected = nextReload(gw.gateway, 'rejected');
    put(gw, target, c.bytes, c.mode);
    const outcome = await rejected;
    const errors = outcome.diagnostics.filter((d) => d.severity === 'error');
    t.ok(errors.length > 0, `${c.name}: rejected with an error`);
    t.ok(errors.every((d) => d.file === target), `${c.name}: every error names ${path.basename(target)}`);
    t.match(errors.map((d) => render(gw.dir, d)).join('\n'), c.expected, `${c.name}: says why`);
    t.equal((await request(shop)).status, 200, `${c.name}: the running snapshot still serves`);
    t.equal(gw.gateway.holder.current.generation, 1, `${c.name}: nothing was swapped`);
    const logged = gw.logs.lines.filter((l) => l.msg === 'configuration rejected; generation 1 keeps serving');
    t.match((logged.at(-1)?.errors as string[] | undefined)?.join('\n'), new RegExp(path.basename(target).replace(/[.]/g, '\\.')), `${c.name}: the log line names the file`);

    const repaired = nextOutcome(gw);
    put(gw, target, good, 0o644);
    const back = await repaired;
    t.not(back.kind, 'rejected', `${c.name}: repaired (${back.kind})`);
    t.equal((await request(shop)).status, 200, `${c.name}: serving after the repair`);
  }
}

const garbage = Buffer.from([0x00, 0xff, 0xfe, 0x13, 0x37, 0x80, 0x81, 0xc3, 0x28, 0x0a, 0x7f, 0x01, 0xde, 0xad, 0xbe, 0xef]);

t.test('a broken certificate file is rejected, naming it; the running snapshot keeps serving', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const gw = await startTestGateway(t, config(backend.url), { certs: { 'shop-ca.crt': ca.certPem } });
  const target = path.join(gw.dir, 'certs', 'shop-ca.crt');
  const used = '\\(certificate alias "shop-ca", used by apis\\[0\\]\\.endpoints\\.production\\)';
  await breakAndRepair(t, gw, target, ca.certPem, [
    {
      name: 'half-written (the first half of the PEM)',
      bytes: ca.certPem.slice(0, Math.floor(ca.certPem.length / 2)),
      expected: new RegExp(`^certs/shop-ca\\.crt:1:1  not a usable certificate file: the CERTIFICATE block at line 1 has no "-----END CERTIFICATE-----" line \\(is the file truncated\\?\\) ${used}  \\[CERT_PARSE\\]$`),
    },
    {
      name: 'empty',
      bytes: '',
      expected: new RegExp(`^certs/shop-ca\\.crt  not a usable certificate file: the file is empty \\(if it was being written, the next reload reads it again\\) ${used}  \\[CERT_PARSE\\]$`),
    },
    {
      name: 'binary garbage',
      bytes: garbage,
      expected: new RegExp(`^certs/shop-ca\\.crt  not a usable certificate file: neither PEM \\(no "-----BEGIN CERTIFICATE-----" line\\) nor a DER certificate \\(first bytes: 00fffe13378081c3\\) ${used}  \\[CERT_PARSE\\]$`),
    },
    {
      name: `oversized (${MAX_CERTIFICATE_FILE_BYTES} + 1 bytes)`,
      bytes: ca.certPem + '\n'.repeat(MAX_CERTIFICATE_FILE_BYTES + 1 - ca.certPem.length),
      expected: new RegExp(`^certs/shop-ca\\.crt  cannot be read: it is ${MAX_CERTIFICATE_FILE_BYTES + 1} bytes, above the limit of ${MAX_CERTIFICATE_FILE_BYTES} bytes for a certificate file ${used}  \\[CERT_READ\\]$`),
    },
    {
      name: 'unreadable (mode 000)',
      bytes: ca.certPem,
      mode: 0o000,
      skip: ROOT ? 'running as root, which reads any file' : WINDOWS ? 'no POSIX modes on Windows' : false,
      expected: new RegExp(`^certs/shop-ca\\.crt  cannot be read: permission denied ${used}  \\[CERT_READ\\]$`),
    },
  ]);
});

t.test('a broken gateway.yaml is rejected, naming it; the running snapshot keeps serving', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const good = config(backend.url);
  const gw = await startTestGateway(t, good, { certs: { 'shop-ca.crt': ca.certPem } });
  const target = path.join(gw.dir, 'gateway.yaml');
  // Cut inside the flow map of the API, as a writer stopped half-way would leave it.
  const half = good.slice(0, good.indexOf('endpoints') + 20);
  await breakAndRepair(t, gw, target, good, [
    {
      name: 'half-written YAML',
      bytes: half,
      expected: /^gateway\.yaml:6:\d+  the \{ \} map opened on line 6 \(column \d+\) is not closed: end it with \}  \[CONFIG_SYNTAX\]$/,
    },
    {
      name: 'empty',
      bytes: '',
      expected: /^gateway\.yaml  the configuration must be a map of keys such as version and apis \(got nothing\)  \[CONFIG_TYPE\]$/,
    },
    {
      name: 'binary garbage',
      bytes: garbage,
      expected: /^gateway\.yaml:\d+:\d+  .+  \[CONFIG_(SYNTAX|TYPE)\]$/,
    },
    {
      name: `oversized (${MAX_CONFIG_FILE_BYTES} + 1 bytes)`,
      bytes: good + '#'.repeat(MAX_CONFIG_FILE_BYTES + 1 - Buffer.byteLength(good)),
      expected: new RegExp(`^gateway\\.yaml  cannot read the configuration: it is ${MAX_CONFIG_FILE_BYTES + 1} bytes, above the limit of ${MAX_CONFIG_FILE_BYTES}  \\[CONFIG_READ\\]$`),
    },
    {
      name: 'unreadable (mode 000)',
      bytes: good,
      mode: 0o000,
      skip: ROOT ? 'running as root, which reads any file' : WINDOWS ? 'no POSIX modes on Windows' : false,
      expected: /^gateway\.yaml  cannot read the configuration: permission denied  \[CONFIG_READ\]$/,
    },
  ]);
});

t.test('a named pipe in place of gateway.yaml is refused without blocking the reload', { skip: WINDOWS ? 'no mkfifo on Windows' : false }, async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const good = config(backend.url);
  const gw = await startTestGateway(t, good, { certs: { 'shop-ca.crt': ca.certPem } });
  const target = path.join(gw.dir, 'gateway.yaml');
  const staging = path.join(gw.dir, '.staging-fifo');
  execFileSync('mkfifo', [staging]);
  const rejected = nextReload(gw.gateway, 'rejected', 5_000);
  renameSync(staging, target);
  const outcome = await rejected;
  t.same(outcome.diagnostics.map((d) => render(gw.dir, d)), ['gateway.yaml  cannot read the configuration: it is not a regular file  [CONFIG_READ]']);
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200, 'the running snapshot still serves');
  const repaired = nextOutcome(gw);
  put(gw, target, good);
  t.not((await repaired).kind, 'rejected', 'the next reload runs: the pipe did not wedge the reloader');
});

// ---------------------------------------------------------------- containment

/** A real folder outside the gateway's, removed after the test. */
function elsewhere(t: Test): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-elsewhere-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const endpoint = (alias: string) => `{ url: "https://shop.internal:9443", certificate: ${alias} }`;
const shopCert = issue({ cn: 'shop.internal', sans: ['shop.internal'], keyIndex: 3 });

async function reload(dir: string, env: Record<string, string> = {}) {
  return loadConfig(path.join(dir, 'gateway.yaml'), { env });
}

t.test('a certificate that resolves outside certs/ is refused; its bytes are never read', async (t) => {
  const outside = elsewhere(t);
  writeFileSync(path.join(outside, 'x.crt'), shopCert.certPem);
  const real = (p: string) => execFileSync('realpath', [p]).toString().trim();

  // certs/evil.crt -> /tmp/…/x.crt, a real certificate outside, referenced by an endpoint.
  const { dir } = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('evil')), certs: {} });
  const certs = path.join(dir, 'certs');
  symlinkSync(path.join(outside, 'x.crt'), path.join(certs, 'evil.crt'));
  const evil = await reload(dir);
  t.equal(evil.config, undefined, 'referenced: an error');
  t.same(
    evil.diagnostics.map((d) => [d.code, d.severity, d.file, d.message]),
    [['CERT_READ', 'error', path.join(certs, 'evil.crt'), `cannot be read: it resolves to ${path.join(real(outside), 'x.crt')}, outside the certificates folder (${real(certs)}) (certificate alias "evil", used by apis[0].endpoints.production)`]],
  );

  // Not referenced: a warning, and the file is still not read (no inventory entry).
  writeFileSync(path.join(dir, 'gateway.yaml'), oneApi('{ url: "https://shop.internal:9443" }'));
  const unreferenced = await reload(dir);
  t.ok(unreferenced.config, 'an unreferenced link is only a warning');
  t.match(unreferenced.diagnostics, [{ code: 'CERT_READ', severity: 'warning', message: /outside the certificates folder .*not referenced by any endpoint/ }]);
  t.same(unreferenced.config!.inventory.map((f) => f.alias), [], 'nothing from outside in the inventory');

  // A relative link climbing out with ../ is the same.
  writeFileSync(path.join(dir, 'gateway.yaml'), oneApi(endpoint('climb')));
  writeFileSync(path.join(dir, 'sibling.crt'), shopCert.certPem);
  symlinkSync('../sibling.crt', path.join(certs, 'climb.crt'));
  const climb = await reload(dir);
  t.same(climb.diagnostics.map((d) => [path.basename(d.file), d.severity, d.code]), [
    ['climb.crt', 'error', 'CERT_READ'],
    ['evil.crt', 'warning', 'CERT_READ'],
  ]);
  t.match(climb.diagnostics[0]!.message, /^cannot be read: it resolves to .*sibling\.crt, outside the certificates folder \(.*certs\) \(certificate alias "climb"/);
});

t.test('certs.directory tricks do not widen the folder', async (t) => {
  const outside = elsewhere(t);
  writeFileSync(path.join(outside, 'x.crt'), shopCert.certPem);

  // A Kubernetes-looking layout whose ..data leads outside: refused like any other link.
  const fake = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')), certs: {} });
  symlinkSync(outside, path.join(fake.dir, 'certs', '..data'));
  symlinkSync('..data/x.crt', path.join(fake.dir, 'certs', 'shop.crt'));
  const viaData = await reload(fake.dir);
  t.equal(viaData.config, undefined);
  t.match(viaData.diagnostics, [{ code: 'CERT_READ', message: /^cannot be read: it resolves to .*x\.crt, outside the certificates folder/ }]);

  // certs.directory written with ../ that comes back to certs: the same folder, the same check.
  const dotted = oneApi(endpoint('shop'), 'certs: { directory: "./certs/../certs/." }\n');
  writeFileSync(path.join(fake.dir, 'gateway.yaml'), dotted);
  const viaDots = await reload(fake.dir);
  t.match(viaDots.diagnostics, [{ code: 'CERT_READ', message: /outside the certificates folder/ }], 'a path spelled with .. is resolved before the check');

  // certs.directory that is itself a link to another folder: that folder is the one named, so its
  // own files are read; a link from it back into the configuration's folder is outside it.
  const linked = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('mine')), 'back.crt': shopCert.certPem });
  const target = elsewhere(t);
  writeFileSync(path.join(target, 'mine.crt'), shopCert.certPem);
  symlinkSync(path.join(linked.dir, 'back.crt'), path.join(target, 'back.crt'));
  symlinkSync(target, path.join(linked.dir, 'certs'));
  const viaLinkedFolder = await reload(linked.dir);
  t.ok(viaLinkedFolder.config, 'the files of the folder the link names are read');
  t.match(viaLinkedFolder.diagnostics, [{ code: 'CERT_READ', severity: 'warning', message: /^cannot be read: it resolves to .*back\.crt, outside the certificates folder/ }]);

  // An alias cannot carry a path: the schema refuses it before any file is looked up.
  for (const alias of ['../evil', '..', '/etc/passwd', 'a/b']) {
    const loaded = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint(JSON.stringify(alias))), certs: {} });
    t.match(loaded.diagnostics, [{ code: 'CONFIG_INVALID_VALUE', path: 'apis[0].endpoints.production.certificate', message: /^must be a certificate alias/ }], `alias ${alias}`);
  }
  const listener = await loadFixture(t, { 'gateway.yaml': 'version: 1\nlisten: { https: { address: "127.0.0.1:0", certificate: "../gw" } }\napis: []\n', certs: {} });
  t.match(listener.diagnostics, [{ code: 'CONFIG_INVALID_VALUE', path: 'listen.https.certificate', message: /^must be a certificate alias/ }], 'the listener alias too');
});

t.test("the listener's certificate or key leading outside certs/ is refused", async (t) => {
  const outside = elsewhere(t);
  writeFileSync(path.join(outside, 'gw.key'), listenerLeaf.keyPem, { mode: 0o600 });
  const https = 'version: 1\nlisten: { https: { address: "127.0.0.1:0", certificate: gw } }\napis: []\n';
  const { dir } = await loadFixture(t, { 'gateway.yaml': https, certs: { 'gw.crt': listenerLeaf.certPem } });
  symlinkSync(path.join(outside, 'gw.key'), path.join(dir, 'certs', 'gw.key'));
  const loaded = await reload(dir);
  t.equal(loaded.config, undefined);
  t.match(loaded.diagnostics, [
    {
      code: 'LISTENER_CERTIFICATE',
      path: 'listen.https.certificate',
      message: /^the gateway's own certificate "gw": the private key certs\/gw\.key: it resolves to .*gw\.key, outside the certificates folder \(.*certs\)$/,
    },
  ]);
  t.notMatch(JSON.stringify(loaded.diagnostics), /PRIVATE KEY/);
});

t.test("Kubernetes' own layout inside certs/ is accepted, for trust files and the listener's key", async (t) => {
  const https = `version: 1\nlisten: { https: { address: "127.0.0.1:0", certificate: gw } }\n${oneApi(endpoint('shop')).replace('version: 1\n', '')}`;
  const { dir } = await loadFixture(t, { 'gateway.yaml': https, certs: { '..2026_11_23_10_00_00.1': {} } });
  const certs = path.join(dir, 'certs');
  const stamped = path.join(certs, '..2026_11_23_10_00_00.1');
  writeFileSync(path.join(stamped, 'shop.crt'), shopCert.certPem);
  writeFileSync(path.join(stamped, 'gw.crt'), listenerLeaf.certPem);
  writeFileSync(path.join(stamped, 'gw.key'), listenerLeaf.keyPem, { mode: 0o400 });
  chmodSync(path.join(stamped, 'gw.key'), 0o400);
  symlinkSync('..2026_11_23_10_00_00.1/', path.join(certs, '..data'));
  for (const name of ['shop.crt', 'gw.crt', 'gw.key']) symlinkSync(`..data/${name}`, path.join(certs, name));
  const loaded = await reload(dir);
  t.same(loaded.diagnostics, [], 'no diagnostic: links inside the folder are followed, and the key (0400 behind its link) is private');
  t.equal(loaded.config!.apis[0]!.production.targets[0]!.certificates[0]!.certificates[0]!.subject, 'CN=shop.internal');
  t.equal(loaded.config!.listen.https!.credentials.kind, 'pem');
});

// ---------------------------------------------------------------- the listener key's permissions

t.test('CERT_KEY_PERMISSIONS: a listener key readable by group or others warns; 0600 does not; root-owned 0640 (a Secret with fsGroup) does not', { skip: WINDOWS ? 'no POSIX modes on Windows' : false }, async (t) => {
  const https = (extra = '') => `version: 1\nlisten: { https: { address: "127.0.0.1:0", certificate: gw${extra} } }\napis: []\n`;
  // The tests run as root here and in CI: a key the gateway's own user owns is then given to
  // nobody (65534); run unprivileged, the files are the user's already.
  const asRoot = process.getuid?.() === 0;
  const pem = async (mode: number, owner: 'user' | 'root' = 'user') => {
    const loaded = await loadFixture(t, { 'gateway.yaml': https(), certs: { 'gw.crt': listenerLeaf.certPem, 'gw.key': listenerLeaf.keyPem } });
    const key = path.join(loaded.dir, 'certs', 'gw.key');
    chmodSync(key, mode);
    if (asRoot && owner === 'user') chownSync(key, 65534, 65534);
    return { dir: loaded.dir, result: await reload(loaded.dir) };
  };

  const open = await pem(0o644);
  t.ok(open.result.config, 'a warning: the gateway still starts');
  t.same(open.result.diagnostics, [
    {
      severity: 'warning',
      code: 'CERT_KEY_PERMISSIONS',
      file: path.join(open.dir, 'certs', 'gw.key'),
      message: "holds the HTTPS listener's private key and is readable by group and others (mode 0644): chmod 600 certs/gw.key (in Kubernetes, set defaultMode: 0440 on the Secret volume with the pod's fsGroup, or 0400 when the pod runs as root)",
    },
  ]);

  t.match((await pem(0o640)).result.diagnostics, [{ code: 'CERT_KEY_PERMISSIONS', message: /readable by group \(mode 0640\)/ }], '0640: group');
  t.match((await pem(0o604)).result.diagnostics, [{ code: 'CERT_KEY_PERMISSIONS', message: /readable by others \(mode 0604\)/ }], '0604: others');
  t.same((await pem(0o600)).result.diagnostics, [], '0600: no warning');
  t.same((await pem(0o400)).result.diagnostics, [], '0400: no warning');
  t.same((await pem(0o700)).result.diagnostics, [], '0700: the owner only, no warning');
  if (asRoot) {
    // Kubernetes' Secret volume for a non-root pod: root:fsGroup, defaultMode 0440 (PostgreSQL's rule).
    t.same((await pem(0o440, 'root')).result.diagnostics, [], 'owned by root, 0440: group-readable on purpose, no warning');
    t.same((await pem(0o640, 'root')).result.diagnostics, [], 'owned by root, 0640: no warning');
    t.match((await pem(0o644, 'root')).result.diagnostics, [{ code: 'CERT_KEY_PERMISSIONS', message: /readable by others \(mode 0644\)/ }], 'owned by root, 0644: others still warn');
  }

  // PKCS#12: the .p12 itself holds the key.
  const { pkcs12 } = await import('../helpers/pki.js');
  const p12 = await loadFixture(t, { 'gateway.yaml': https(', passphrase: "${P}"'), certs: { 'gw.p12': pkcs12(listenerLeaf, 'pw') } }, { env: { P: 'pw' } });
  chmodSync(path.join(p12.dir, 'certs', 'gw.p12'), 0o644);
  const p12Open = await loadConfig(path.join(p12.dir, 'gateway.yaml'), { env: { P: 'pw' } });
  t.match(p12Open.diagnostics, [{ code: 'CERT_KEY_PERMISSIONS', file: path.join(p12.dir, 'certs', 'gw.p12'), message: /chmod 600 certs\/gw\.p12/ }], 'a .p12 readable by others');
  chmodSync(path.join(p12.dir, 'certs', 'gw.p12'), 0o600);
  t.same((await loadConfig(path.join(p12.dir, 'gateway.yaml'), { env: { P: 'pw' } })).diagnostics, [], 'a .p12 at 0600');

  // Kubernetes: the link is 0777 by nature; the mode that counts is the file it resolves to.
  const k8s = await loadFixture(t, { 'gateway.yaml': https(), certs: { '..2026_11_23_10_00_00.1': { 'gw.crt': listenerLeaf.certPem, 'gw.key': listenerLeaf.keyPem } } });
  const certs = path.join(k8s.dir, 'certs');
  symlinkSync('..2026_11_23_10_00_00.1', path.join(certs, '..data'));
  for (const name of ['gw.crt', 'gw.key']) symlinkSync(`..data/${name}`, path.join(certs, name));
  chmodSync(path.join(certs, '..2026_11_23_10_00_00.1', 'gw.key'), 0o644);
  t.match((await reload(k8s.dir)).diagnostics, [{ code: 'CERT_KEY_PERMISSIONS', file: path.join(certs, 'gw.key'), message: /mode 0644/ }], 'defaultMode 0644 behind the link warns');
  chmodSync(path.join(certs, '..2026_11_23_10_00_00.1', 'gw.key'), 0o400);
  t.same((await reload(k8s.dir)).diagnostics, [], 'defaultMode 0400 behind the link: no warning');

  // Only the listener's key: trust files are public certificates, whatever their mode.
  const trust = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')), certs: { 'shop.crt': shopCert.certPem } });
  chmodSync(path.join(trust.dir, 'certs', 'shop.crt'), 0o644);
  t.same((await reload(trust.dir)).diagnostics, [], 'a trust file at 0644 is fine');
});

t.test('a named pipe in certs/ does not block the load', { skip: WINDOWS ? 'no mkfifo on Windows' : false }, async (t) => {
  const { dir } = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')), certs: {} });
  execFileSync('mkfifo', [path.join(dir, 'certs', 'shop.crt')]);
  const loaded = await reload(dir);
  t.match(loaded.diagnostics, [{ code: 'CERT_READ', message: /^cannot be read: it is not a regular file/ }]);
});
