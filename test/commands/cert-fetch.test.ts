// `gatehouse cert fetch` against real TLS backends on 127.0.0.1 with certificates made at test
// time: it writes only on a matching --sha256 or an interactive "yes", never overwrites without
// --force, writes the chain as presented, and a gateway then trusts the file it wrote.
import { X509Certificate } from 'node:crypto';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { parseCertificateBytes } from '../../src/certs/parse.js';
import { certFetchCommand } from '../../src/commands/cert-fetch.js';
import { startBackend } from '../helpers/backend.js';
import { closedPort } from '../helpers/backend.js';
import { runCli } from '../helpers/cli.js';
import { json, request } from '../helpers/client.js';
import { apiConfig, nextReload, startTestGateway } from '../helpers/gateway.js';
import { createCA, daysFromNow, issue } from '../helpers/pki.js';
import type { Issued } from '../helpers/pki.js';

const selfSigned = issue({ cn: 'shop.test', sans: ['127.0.0.1', 'shop.test'], keyIndex: 1 });
const otherSelfSigned = issue({ cn: 'other.test', sans: ['127.0.0.1'], keyIndex: 2 });
const root = createCA('Fetch Root CA', { keyIndex: 0 });
const intermediate = issue({ cn: 'Fetch Intermediate CA', isCA: true, issuer: root, keyIndex: 3 });
const chainLeaf = issue({ cn: 'chain.test', sans: ['127.0.0.1'], issuer: intermediate, keyIndex: 1 });

const fingerprintOf = (issued: Issued): string => new X509Certificate(issued.certPem).fingerprint256;

/** The certificates of a written file, as the gateway parses them. */
function certificatesIn(file: string) {
  const parsed = parseCertificateBytes(readFileSync(file));
  if (!parsed.ok) throw new Error(`${file}: ${parsed.reason}`);
  return parsed.certificates;
}

function config(url: string, alias = 'shop', top = ''): string {
  return `version: 1
${top}apis:
  - name: Shop
    context: /shop
    version: "1.0"
    endpoints:
      production: { url: "${url}", certificate: ${alias} }
`;
}

t.test('a matching --sha256 writes the self-signed certificate, and a running gateway then serves through it', async (t) => {
  const backend = await startBackend(t, { certificate: selfSigned });
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: shop }`, '', 'reload: { interval: 100ms }\n'));
  const before = await request(`${gw.url}/api/v1/hello`);
  t.equal(before.status, 503, 'pending until the file exists');
  t.equal(json<{ error: { code: string } }>(before).error.code, 'CERTIFICATE_PENDING');

  const fingerprint = fingerprintOf(selfSigned);
  const applied = nextReload(gw.gateway, 'applied', 20_000);
  // Lower case without colons: as people paste it.
  const res = await runCli(['cert', 'fetch', backend.url, '--alias', 'shop', '--sha256', fingerprint.replace(/:/g, '').toLowerCase()], { cwd: gw.dir });
  t.equal(res.code, 0, res.stdout + res.stderr);
  t.match(res.stdout, new RegExp(`^https://127\\.0\\.0\\.1:${backend.port} \\(127\\.0\\.0\\.1:${backend.port}, no server name \\(an IP address\\), TLSv1\\.3\\) presents 1 certificate:$`, 'm'));
  t.match(res.stdout, /^ {2}1\. leaf, self-signed$/m);
  t.match(res.stdout, /^ {5}subject {3}CN=shop\.test$/m);
  t.match(res.stdout, /^ {5}SANs {6}IP Address:127\.0\.0\.1, DNS:shop\.test$/m);
  t.match(res.stdout, /^ {5}issuer {4}CN=shop\.test$/m);
  t.match(res.stdout, /^ {5}valid {5}\d{4}-\d\d-\d\dT[\d:.]+Z to \d{4}-\d\d-\d\dT[\d:.]+Z \(36[45] days left\)$/m);
  t.match(res.stdout, new RegExp(`^ {5}SHA-256 {3}${fingerprint}$`, 'm'));
  t.match(res.stdout, /^The leaf's SHA-256 fingerprint matches --sha256\.$/m);
  t.match(res.stdout, /^Wrote certs\/shop\.crt \(1 certificate, the leaf\)\.$/m);
  t.match(res.stdout, /^Certificate alias "shop" is used by API "Test" version v1, production endpoint \(apis\[0\]\.endpoints\.production\)\. A running gateway picks certs\/shop\.crt up within reload\.interval \(100ms\), or at once on SIGHUP or POST \/reload\.$/m);

  const written = certificatesIn(path.join(gw.dir, 'certs', 'shop.crt'));
  t.equal(written.length, 1);
  t.equal(written[0]!.fingerprint256, fingerprint, "the file holds the backend's certificate");
  t.same(readdirSync(path.join(gw.dir, 'certs')), ['shop.crt'], 'no temporary file left behind');

  await applied;
  const after = await request(`${gw.url}/api/v1/hello`);
  t.equal(after.status, 200, after.text);
  t.equal(json<{ url: string }>(after).url, '/hello');
  t.equal(backend.requests.length, 1, 'the request went through the verified TLS connection');
});

t.test('a self-signed CA:TRUE leaf (as openssl req -x509 makes) that names another host: warned, as the handshake will fail', async (t) => {
  const caTrue = issue({ cn: 'elsewhere.test', sans: ['elsewhere.test'], isCA: true, keyIndex: 2 });
  const backend = await startBackend(t, { certificate: caTrue });
  const dir = t.testdir({ 'gateway.yaml': config(backend.url), certs: {} });
  const res = await runCli(['cert', 'fetch', backend.url, '--alias', 'shop', '--sha256', fingerprintOf(caTrue)], { cwd: dir });
  t.equal(res.code, 0, res.stderr);
  t.match(
    res.stdout,
    /^warning: the leaf names DNS:elsewhere\.test but not "127\.0\.0\.1" \(from the URL\), which the Strict hostname verifier checks for API "Shop" version 1\.0, production endpoint \(apis\[0\]\.endpoints\.production\): set tls\.serverName to one of its names, have it reissued with "127\.0\.0\.1" in its SANs, or use hostnameVerifier AllowAll\.$/m,
  );
  const validate = await runCli(['validate'], { cwd: dir });
  t.match(validate.stdout, /CERT_HOSTNAME/, 'and validate agrees');
});

t.test('a --sha256 that does not match the leaf: exit 1, both fingerprints named, nothing written', async (t) => {
  const backend = await startBackend(t, { certificate: selfSigned });
  const dir = t.testdir({ 'gateway.yaml': config(backend.url), certs: {} });
  const wrong = fingerprintOf(otherSelfSigned);
  const res = await runCli(['cert', 'fetch', backend.url, '--alias', 'shop', '--sha256', wrong], { cwd: dir });
  t.equal(res.code, 1);
  t.match(res.stderr, `the leaf's SHA-256 fingerprint is ${fingerprintOf(selfSigned)}, not ${wrong} as given with --sha256`);
  t.match(res.stderr, /Nothing written/);
  t.same(readdirSync(path.join(dir, 'certs')), [], 'nothing written');
});

t.test('without --sha256 in a script: exit 1, nothing written, the fingerprint and the command to run printed', async (t) => {
  const backend = await startBackend(t, { certificate: selfSigned });
  const dir = t.testdir({ 'gateway.yaml': config(backend.url), certs: {} });
  const res = await runCli(['cert', 'fetch', backend.url, '--alias', 'shop'], { cwd: dir });
  t.equal(res.code, 1);
  t.same(readdirSync(path.join(dir, 'certs')), [], 'nothing written');
  const fingerprint = fingerprintOf(selfSigned);
  t.match(res.stderr, /never silently in a script/);
  t.match(res.stderr, `The leaf's SHA-256 fingerprint is ${fingerprint}.`);
  const command = /^ {2}(gatehouse cert fetch .*)$/m.exec(res.stderr)?.[1];
  t.equal(command, `gatehouse cert fetch ${backend.url} --alias shop --sha256 ${fingerprint}`);

  // The printed command does what it says.
  const rerun = await runCli(command!.split(' ').slice(1), { cwd: dir });
  t.equal(rerun.code, 0, rerun.stderr);
  t.equal(certificatesIn(path.join(dir, 'certs', 'shop.crt'))[0]!.fingerprint256, fingerprint);
});

t.test('an existing file is kept without --force and replaced with it', async (t) => {
  const backend = await startBackend(t, { certificate: selfSigned });
  const dir = t.testdir({ 'gateway.yaml': config(backend.url), certs: { 'shop.crt': otherSelfSigned.certPem } });
  const file = path.join(dir, 'certs', 'shop.crt');
  const fingerprint = fingerprintOf(selfSigned);

  const kept = await runCli(['cert', 'fetch', backend.url, '--alias', 'shop', '--sha256', fingerprint], { cwd: dir });
  t.equal(kept.code, 1);
  t.match(kept.stderr, `certs/shop.crt already exists and holds another certificate ("CN=other.test", SHA-256 ${fingerprintOf(otherSelfSigned)}`);
  t.match(kept.stderr, /pass --force to replace it\. Nothing written\./);
  t.equal(readFileSync(file, 'utf8'), otherSelfSigned.certPem, 'the file is untouched');

  const replaced = await runCli(['cert', 'fetch', backend.url, '--alias', 'shop', '--sha256', fingerprint, '--force'], { cwd: dir });
  t.equal(replaced.code, 0, replaced.stderr);
  t.match(replaced.stdout, /^Wrote certs\/shop\.crt \(1 certificate, the leaf\), replacing certs\/shop\.crt\.$/m);
  t.same(certificatesIn(file).map((c) => c.fingerprint256), [fingerprint]);
  t.same(readdirSync(path.join(dir, 'certs')), ['shop.crt']);

  const again = await runCli(['cert', 'fetch', backend.url, '--alias', 'shop', '--sha256', fingerprint], { cwd: dir });
  t.equal(again.code, 1, 'still never overwritten without --force');
  t.match(again.stderr, /certs\/shop\.crt already exists and already holds this leaf/);
});

t.test('the alias in another extension counts as existing; --force replaces that file rather than adding an ambiguous one', async (t) => {
  const backend = await startBackend(t, { certificate: selfSigned });
  const dir = t.testdir({ 'gateway.yaml': config(backend.url), certs: { 'shop.pem': otherSelfSigned.certPem } });
  const fingerprint = fingerprintOf(selfSigned);
  const kept = await runCli(['cert', 'fetch', backend.url, '--alias', 'shop', '--sha256', fingerprint], { cwd: dir });
  t.equal(kept.code, 1);
  t.match(kept.stderr, /certs\/shop\.pem already exists/);
  const replaced = await runCli(['cert', 'fetch', backend.url, '--alias', 'shop', '--sha256', fingerprint, '--force'], { cwd: dir });
  t.equal(replaced.code, 0, replaced.stderr);
  t.same(readdirSync(path.join(dir, 'certs')), ['shop.pem']);
  t.same(certificatesIn(path.join(dir, 'certs', 'shop.pem')).map((c) => c.fingerprint256), [fingerprint]);
});

t.test('a leaf and its intermediate: the chain is written as presented, leaf first; --leaf-only writes the leaf', async (t) => {
  // The backend sends its leaf and the intermediate, not the root.
  const backend = await startBackend(t, { certificate: { ...chainLeaf, certPem: chainLeaf.certPem + intermediate.certPem } });
  const dir = t.testdir({ 'gateway.yaml': config(backend.url, 'chain'), certs: {} });
  const fingerprint = fingerprintOf(chainLeaf);
  const res = await runCli(['cert', 'fetch', backend.url, '--alias', 'chain', '--sha256', fingerprint], { cwd: dir });
  t.equal(res.code, 0, res.stderr);
  t.match(res.stdout, /presents 2 certificates:/);
  t.match(res.stdout, /^ {2}1\. leaf\n {5}subject {3}CN=chain\.test$/m);
  t.match(res.stdout, /^ {2}2\. intermediate CA\n {5}subject {3}CN=Fetch Intermediate CA$/m);
  t.match(res.stdout, /^Wrote certs\/chain\.crt \(2 certificates, the leaf first\)\.$/m);
  const written = certificatesIn(path.join(dir, 'certs', 'chain.crt'));
  t.same(
    written.map((c) => [c.subject, c.fingerprint256]),
    [
      ['CN=chain.test', fingerprint],
      ['CN=Fetch Intermediate CA', fingerprintOf(intermediate)],
    ],
    'leaf, then intermediate; the root, never presented, is not added',
  );
  t.notOk(written.some((c) => c.subject === 'CN=Fetch Root CA'));

  // The intermediate's fingerprint is not the leaf's: refused, and told which certificate it is.
  const intermediateOnly = await runCli(['cert', 'fetch', backend.url, '--alias', 'other', '--sha256', fingerprintOf(intermediate)], { cwd: dir });
  t.equal(intermediateOnly.code, 1);
  t.match(intermediateOnly.stderr, /it is the fingerprint of "CN=Fetch Intermediate CA", an issuer in the chain; --sha256 must be the leaf's/);

  const leafOnly = await runCli(['cert', 'fetch', backend.url, '--alias', 'pinned', '--sha256', fingerprint, '--leaf-only', '--out', 'pins'], { cwd: dir });
  t.equal(leafOnly.code, 0, leafOnly.stderr);
  t.same(certificatesIn(path.join(dir, 'pins', 'pinned.crt')).map((c) => c.subject), ['CN=chain.test']);
  t.match(leafOnly.stdout, /No endpoint of gateway\.yaml references certificate alias "pinned" yet.*\(note: gateway\.yaml reads certificates from certs, not pins\)/);

  // What was written is what the gateway needs: check with the endpoint trusting it says OK.
  const check = await runCli(['check'], { cwd: dir });
  t.equal(check.code, 0, check.stdout);
});

t.test('on a terminal, without --sha256: written after "yes", not after anything else', async (t) => {
  const backend = await startBackend(t, { certificate: selfSigned });
  const dir = t.testdir({ 'gateway.yaml': config(backend.url), certs: {} });

  const terminal = () => {
    const stdin = Object.assign(new PassThrough(), { isTTY: true });
    const stdout = Object.assign(new PassThrough(), { isTTY: true });
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    /** Resolves once the prompt is shown; fails after a deadline. */
    const prompted = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no prompt within 10 s; output:\n${out}`)), 10_000);
      stdout.on('data', () => {
        if (/Type yes to write certs\/shop\.crt: $/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    return { io: { stdin, stdout, stderr, env: {}, cwd: dir }, stdin, prompted, out: () => out, err: () => err };
  };

  const no = terminal();
  const refused = certFetchCommand([backend.url, '--alias', 'shop'], no.io);
  await no.prompted;
  t.match(no.out(), `SHA-256   ${fingerprintOf(selfSigned)}`, 'the fingerprint is shown before the question');
  no.stdin.write('no\n');
  t.equal(await refused, 1);
  t.match(no.err(), /not written \(the answer was not "yes"\)/);
  t.notOk(existsSync(path.join(dir, 'certs', 'shop.crt')));

  const closed = terminal();
  const closedRun = certFetchCommand([backend.url, '--alias', 'shop'], closed.io);
  await closed.prompted;
  closed.stdin.end();
  t.equal(await closedRun, 1, 'the terminal closed without an answer');
  t.notOk(existsSync(path.join(dir, 'certs', 'shop.crt')));

  const yes = terminal();
  const accepted = certFetchCommand([backend.url, '--alias', 'shop'], yes.io);
  await yes.prompted;
  yes.stdin.write('yes\n');
  t.equal(await accepted, 0, yes.err());
  t.same(certificatesIn(path.join(dir, 'certs', 'shop.crt')).map((c) => c.fingerprint256), [fingerprintOf(selfSigned)]);
});

t.test('a configuration that does not load: the file still goes to its certs.directory', async (t) => {
  // The very case of a renewal: the old certificate expired, and certs.expired: reject fails the load.
  const expired = issue({ cn: 'shop.test', sans: ['127.0.0.1'], notBefore: daysFromNow(-30), notAfter: daysFromNow(-1), keyIndex: 2 });
  const backend = await startBackend(t, { certificate: selfSigned });
  const dir = t.testdir({ 'gateway.yaml': config(backend.url, 'shop', 'certs: { directory: ./trust }\n'), trust: { 'shop.crt': expired.certPem } });
  const res = await runCli(['cert', 'fetch', backend.url, '--alias', 'shop', '--sha256', fingerprintOf(selfSigned), '--force'], { cwd: dir });
  t.equal(res.code, 0, res.stderr);
  t.match(res.stdout, /^Wrote trust\/shop\.crt \(1 certificate, the leaf\), replacing trust\/shop\.crt\.$/m);
  t.match(res.stdout, /gateway\.yaml does not load \(1 error: run `gatehouse validate`\)/);
  t.same(certificatesIn(path.join(dir, 'trust', 'shop.crt')).map((c) => c.fingerprint256), [fingerprintOf(selfSigned)]);
  t.notOk(existsSync(path.join(dir, 'certs')), 'not ./certs');
  const validate = await runCli(['validate'], { cwd: dir });
  t.equal(validate.code, 0, 'the configuration loads again: ' + validate.stdout);
});

t.test('usage errors exit 2 and write nothing; an unreachable backend exits 1', async (t) => {
  const dir = t.testdir({ certs: {} });
  const url = 'https://127.0.0.1:1';
  const cases: [string[], RegExp][] = [
    [[url], /--alias NAME is needed/],
    [[url, '--alias', '../evil'], /--alias must be a file name of letters, digits/],
    [[url, '--alias', '.hidden'], /not starting with "\."/],
    [['http://127.0.0.1:1', '--alias', 'x'], /the URL must start with https:\/\//],
    [[url, '--alias', 'x', '--sha256', 'abc'], /--sha256 must be a SHA-256 fingerprint: 64 hexadecimal digits/],
    [['--alias', 'x'], /the backend's URL is needed/],
  ];
  for (const [args, message] of cases) {
    const res = await runCli(['cert', 'fetch', ...args], { cwd: dir });
    t.equal(res.code, 2, args.join(' '));
    t.match(res.stderr, message);
  }
  const port = await closedPort();
  const unreachable = await runCli(['cert', 'fetch', `https://127.0.0.1:${port}`, '--alias', 'x'], { cwd: dir });
  t.equal(unreachable.code, 1);
  t.match(unreachable.stderr, new RegExp(`no certificate from https://127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`));
  t.same(readdirSync(path.join(dir, 'certs')), []);
  t.notOk(existsSync(path.join(dir, 'evil.crt')));
});

t.test('openssl\'s own output is accepted as --sha256', async (t) => {
  const backend = await startBackend(t, { certificate: selfSigned });
  const dir = t.testdir({ certs: {} });
  const res = await runCli(['cert', 'fetch', backend.url, '--alias', 'shop', '--sha256', `sha256 Fingerprint=${fingerprintOf(selfSigned)}`], { cwd: dir });
  t.equal(res.code, 0, res.stderr);
  t.match(res.stdout, /^Certificate alias "shop": there is no gateway\.yaml to tell which endpoints use it\.$/m);
  t.same(certificatesIn(path.join(dir, 'certs', 'shop.crt')).map((c) => c.fingerprint256), [fingerprintOf(selfSigned)]);
});
