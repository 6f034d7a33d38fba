// gatehouse cert list: the inventory of a real certificates folder, through the real pipeline,
// with used, pending, unreferenced and unusable files, the HTTPS listener's own certificate,
// and days left computed from real dates. The command runs in this process with captured output.
import { X509Certificate } from 'node:crypto';
import t from 'tap';
import { runInProcess } from '../helpers/cli.js';
import type { Test } from 'tap';
import { certCommand } from '../../src/commands/cert.js';
import { createCA, issue, pkcs12 } from '../helpers/pki.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** A date `days` whole days and one hour away: days left is exactly `days` however slow the test. */
const inDays = (days: number): Date => new Date(Date.now() + days * DAY_MS + HOUR_MS);

const cert = (args: string[], cwd: string, env: Record<string, string> = {}) => runInProcess(certCommand, args, cwd, env);

const config = (listener: string) => `version: 1
listen: { http: "127.0.0.1:0"${listener} }
admin: { address: "127.0.0.1:0" }
apis:
  - name: Shop
    context: /shop
    version: "1.0"
    endpoints:
      production: { url: "https://orders.internal", certificate: orders }
      sandbox: { url: "https://orders.internal:8443", certificate: [orders, pizza] }
  - name: Pay
    context: /pay
    version: "2.0"
    endpoints:
      production: { url: "https://pay.internal", certificate: payments }
`;

const root = createCA('Pay Root CA', { keyIndex: 0, notAfter: inDays(3650) });
const intermediate = issue({ cn: 'Pay Issuing CA', isCA: true, issuer: root, keyIndex: 1, notAfter: inDays(400) });
const orders = issue({ cn: 'orders.internal', sans: ['orders.internal', '10.0.0.7'], keyIndex: 2, notAfter: inDays(10) });
const spare = issue({ cn: 'spare.internal', sans: ['spare.internal'], keyIndex: 3, notBefore: inDays(-60), notAfter: new Date(Date.now() - 3 * DAY_MS + HOUR_MS) });
const gateway = issue({ cn: 'gateway.local', sans: ['localhost'], keyIndex: 1, notAfter: inDays(90) });

function workspace(t: Test, listenerFiles: Record<string, string | Buffer>, listener: string) {
  return t.testdir({
    'gateway.yaml': config(listener),
    certs: {
      'orders.crt': orders.certPem,
      'payments.pem': intermediate.certPem + root.certPem,
      'spare.crt': spare.certPem,
      'broken.crt': 'not a certificate\n',
      'README.md': 'not a certificate file: ignored\n',
      ...listenerFiles,
    },
  });
}

t.test('text: used, pending, unreferenced and unusable files, the listener, days left', async (t) => {
  const dir = workspace(t, { 'gateway.crt': gateway.certPem, 'gateway.key': gateway.keyPem }, ', https: { address: "127.0.0.1:0", certificate: gateway }');
  const result = await cert(['list'], dir);
  t.equal(result.code, 0, result.stderr);
  t.equal(result.stderr, '');
  const lines = result.stdout.split('\n');
  t.equal(lines[0], 'certs/ of gateway.yaml: 5 files (3 used, 1 unreferenced, 1 unusable); 1 pending alias (no file yet)');
  t.equal(lines[1], '');
  t.match(lines[2], /^ALIAS +SUBJECT +SANS +NOT AFTER +DAYS LEFT +USED BY$/);
  const rows = lines.slice(3, 10).map((line) => line.split(/ {2,}/));
  const day = (d: Date): string => d.toISOString().slice(0, 10);
  t.same(rows, [
    ['broken', '(unusable: see below)', '(unreferenced)'],
    ['gateway', 'CN=gateway.local', 'DNS:localhost', day(gateway.cert.validity.notAfter), '90', 'HTTPS listener'],
    ['orders', 'CN=orders.internal', 'DNS:orders.internal, IP Address:10.0.0.7', day(orders.cert.validity.notAfter), '10 (renew)', 'Shop 1.0 production, Shop 1.0 sandbox'],
    ['payments', 'CN=Pay Issuing CA', '-', day(intermediate.cert.validity.notAfter), '400', 'Pay 2.0 production'],
    ['', 'CN=Pay Root CA', '-', day(root.cert.validity.notAfter), '3650'],
    ['pizza', '(pending: no file yet)', 'Shop 1.0 sandbox'],
    ['spare', 'CN=spare.internal', 'DNS:spare.internal', day(spare.cert.validity.notAfter), '-3 (expired)', '(unreferenced)'],
  ]);
  // The columns line up: every cell of a column starts at the header's offset.
  const usedBy = lines[2]!.indexOf('USED BY');
  t.equal(lines[5]!.indexOf('Shop 1.0 production'), usedBy, 'aligned under USED BY');
  t.match(
    result.stdout,
    /\n\ncerts\/broken\.crt: not a usable certificate file: neither PEM \(no "-----BEGIN CERTIFICATE-----" line\) nor a DER certificate \(first bytes: 6e6f742061206365\)\n/,
    'why a file is unusable, under the table',
  );
  t.match(result.stdout, /\n\d+ warnings: `gatehouse validate` shows them\n$/, 'warnings (expiring, pending, unusable) are counted, not repeated');
});

t.test('json: the same inventory for tools, with files, fingerprints, days left and users', async (t) => {
  const pfx = pkcs12(gateway, 'pw');
  const dir = workspace(t, { 'gateway.p12': pfx }, ', https: { address: "127.0.0.1:0", certificate: gateway, passphrase: pw }');
  const result = await cert(['list', '--format', 'json'], dir);
  t.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as {
    file: string;
    directory: string;
    generatedAt: string;
    certificates: {
      alias: string;
      status: string;
      file?: string;
      sha256?: string;
      reason?: string;
      usedBy: { path: string; api?: string; version?: string; endpoint?: string }[];
      certificates: { subject: string; subjectAltNames: string[]; fingerprint256: string; notAfter: string; daysLeft: number; state: string; isCA: boolean }[];
    }[];
  };
  t.equal(report.file, 'gateway.yaml');
  t.equal(report.directory, 'certs');
  t.ok(Math.abs(Date.parse(report.generatedAt) - Date.now()) < 60_000, 'generatedAt is now');
  t.same(
    report.certificates.map((c) => [c.alias, c.status, c.file]),
    [
      ['broken', 'unusable', 'certs/broken.crt'],
      ['gateway', 'used', 'certs/gateway.p12'],
      ['orders', 'used', 'certs/orders.crt'],
      ['payments', 'used', 'certs/payments.pem'],
      ['pizza', 'pending', undefined],
      ['spare', 'unreferenced', 'certs/spare.crt'],
    ],
  );
  const byAlias = new Map(report.certificates.map((c) => [c.alias, c]));
  t.same(byAlias.get('orders')!.usedBy, [
    { path: 'apis[0].endpoints.production', api: 'Shop', version: '1.0', endpoint: 'production' },
    { path: 'apis[0].endpoints.sandbox', api: 'Shop', version: '1.0', endpoint: 'sandbox' },
  ]);
  t.same(byAlias.get('orders')!.certificates.map((c) => [c.subject, c.subjectAltNames, c.fingerprint256, c.daysLeft, c.state]), [
    ['CN=orders.internal', ['DNS:orders.internal', 'IP Address:10.0.0.7'], new X509Certificate(orders.der).fingerprint256, 10, 'expiring'],
  ]);
  t.match(byAlias.get('orders')!.sha256, /^[0-9a-f]{64}$/);
  t.same(byAlias.get('payments')!.certificates.map((c) => [c.subject, c.isCA, c.daysLeft, c.state]), [
    ['CN=Pay Issuing CA', true, 400, 'valid'],
    ['CN=Pay Root CA', true, 3650, 'valid'],
  ]);
  t.same(byAlias.get('spare')!.certificates.map((c) => [c.daysLeft, c.state]), [[-3, 'expired']]);
  t.same(byAlias.get('spare')!.usedBy, []);
  t.same(byAlias.get('pizza')!.usedBy, [{ path: 'apis[0].endpoints.sandbox', api: 'Shop', version: '1.0', endpoint: 'sandbox' }]);
  t.same(byAlias.get('pizza')!.certificates, []);
  t.same(byAlias.get('gateway')!.usedBy, [{ path: 'listen.https.certificate' }], 'the PKCS#12 listener certificate');
  t.equal(byAlias.get('gateway')!.certificates[0]!.daysLeft, 90);
  t.match(byAlias.get('broken')!.reason, /^not a usable certificate file: neither PEM/);
});

t.test('an empty folder, and no folder at all', async (t) => {
  const empty = t.testdir({ 'gateway.yaml': 'version: 1\napis: []\n', certs: {} });
  const result = await cert(['list'], empty);
  t.equal(result.code, 0);
  t.equal(result.stdout, 'certs/ of gateway.yaml: 0 files (0 used, 0 unreferenced)\n');
  const absent = t.testdir({ 'gateway.yaml': 'version: 1\ncerts: { directory: ./trust }\napis:\n  - { name: A, context: /a, version: "1", endpoints: { production: { url: "https://a.internal", certificate: a } } }\n' });
  const pending = await cert(['list', '--format', 'json'], absent);
  t.equal(pending.code, 0);
  const report = JSON.parse(pending.stdout) as { directory: string; certificates: { alias: string; status: string }[] };
  t.equal(report.directory, 'trust');
  t.same(report.certificates.map((c) => [c.alias, c.status]), [['a', 'pending']]);
});

t.test('an invalid configuration: its errors on stderr, exit 1, no inventory', async (t) => {
  const dir = t.testdir({ 'gateway.yaml': config(''), certs: { 'orders.crt': 'garbage\n', 'payments.pem': root.certPem } });
  const result = await cert(['list'], dir);
  t.equal(result.code, 1);
  t.equal(result.stdout, '');
  t.match(result.stderr, /^certs\/orders\.crt  not a usable certificate file: .* \(certificate alias "orders", used by apis\[0\]\.endpoints\.production, apis\[0\]\.endpoints\.sandbox\)  \[CERT_PARSE\]$/m);
  t.match(result.stderr, /^gateway\.yaml: invalid: 1 error; the inventory is listed once the configuration is valid$/m);

  const missing = await cert(['list', '-c', 'nope.yaml', '--format', 'json'], dir);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /nope\.yaml  cannot read the configuration: it does not exist/);
});

t.test('usage errors exit 2', async (t) => {
  const dir = t.testdir({});
  for (const args of [['list', '--format', 'yaml'], ['list', 'gateway.yaml'], ['list', '--bogus']]) {
    const result = await cert(args, dir);
    t.equal(result.code, 2, args.join(' '));
    t.match(result.stderr, /^gatehouse cert list: .+\n\nUsage: gatehouse cert list/, args.join(' '));
  }
});
