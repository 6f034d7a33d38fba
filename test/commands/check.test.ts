// `gatehouse check` as a user runs it (the installed command in a child process) against real
// TLS backends on 127.0.0.1, one per way a handshake can fail, with certificates made at test time.
import t from 'tap';
import type { Test } from 'tap';
import { closedPort, startBackend, startSilentServer } from '../helpers/backend.js';
import type { Backend } from '../helpers/backend.js';
import { runCli } from '../helpers/cli.js';
import { createCA, daysFromNow, issue } from '../helpers/pki.js';

const ca = createCA('Check Test CA', { keyIndex: 0 });
const okLeaf = issue({ cn: 'ok.test', sans: ['127.0.0.1', 'ok.test'], issuer: ca, keyIndex: 1 });
const otherCA = createCA('Check Other CA', { keyIndex: 2 });
const expiredLeaf = issue({ cn: 'expired.test', sans: ['127.0.0.1'], issuer: ca, notBefore: daysFromNow(-30), notAfter: daysFromNow(-2), keyIndex: 3 });
const wrongName = issue({ cn: 'other.test', sans: ['other.test'], issuer: ca, keyIndex: 1 });

interface CheckJson {
  file: string;
  ok: boolean;
  valid: boolean;
  summary: { endpoints: number; ok: number; failing: number; results: Record<string, number> };
  endpoints: {
    api: string;
    version: string;
    endpoint: string;
    path: string;
    url: string;
    result: string;
    code?: string;
    reason?: string;
    error?: string;
    certificate?: { subject: string; issuer: string; notAfter: string; fingerprint256: string };
    tlsVersion?: string;
    hint?: string;
  }[];
  warnings: { code: string }[];
}

/** One backend per outcome, and a configuration with an endpoint for each. */
async function everyOutcome(t: Test) {
  const ok = await startBackend(t, { certificate: okLeaf });
  const expired = await startBackend(t, { certificate: expiredLeaf });
  const mismatch = await startBackend(t, { certificate: wrongName });
  const tls12 = await startBackend(t, { certificate: okLeaf, tls: { maxVersion: 'TLSv1.2' } });
  const closed = await closedPort();
  const silent = await startSilentServer(t);
  const config = `version: 1
listen: { http: "127.0.0.1:0" }
apis:
  - name: Shop
    context: /shop
    version: "1.0"
    endpoints:
      production: { url: "${ok.url}/api", certificate: check-ca }
      sandbox: { url: "${ok.url}/api", certificate: other-ca }
  - name: Orders
    context: /orders
    version: v2
    endpoints:
      production: { url: "${expired.url}", certificate: check-ca }
      sandbox: { url: "${mismatch.url}", certificate: check-ca }
  - name: Pay
    context: /pay
    version: v1
    endpoints:
      production: { url: "${tls12.url}", certificate: check-ca, tls: { protocols: [TLSv1.3] } }
      sandbox: { url: "https://127.0.0.1:${closed}", certificate: check-ca }
  - name: Legacy
    context: /legacy
    version: v1
    endpoints:
      production: { url: "https://127.0.0.1:${silent.port}", certificate: check-ca, timeouts: { connect: 300ms } }
      sandbox: { url: "${ok.url}", certificate: not-yet }
`;
  const dir = t.testdir({ 'gateway.yaml': config, certs: { 'check-ca.crt': ca.certPem, 'other-ca.crt': otherCA.certPem } });
  return { dir, ok, expired, mismatch, tls12, closed, silent };
}

function row(api: string, version: string, endpoint: string, url: string, result: string): RegExp {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${esc(api)}\\s+${esc(version)}\\s+${endpoint}\\s+${esc(url)}\\s+${esc(result)}$`, 'm');
}

t.test('every outcome, as a table: each endpoint with its result, certificate and hint; exit 1', async (t) => {
  const { dir, ok, expired, mismatch, tls12, closed, silent } = await everyOutcome(t);
  const res = await runCli(['check'], { cwd: dir });
  t.equal(res.code, 1, res.stdout + res.stderr);
  const out = res.stdout;
  t.match(out, /^API\s+VERSION\s+ENDPOINT\s+URL\s+RESULT$/m);
  t.match(out, row('Shop', '1.0', 'production', `${ok.url}/api`, 'OK'));
  t.match(out, row('Shop', '1.0', 'sandbox', `${ok.url}/api`, 'untrusted'));
  t.match(out, row('Orders', 'v2', 'production', expired.url, 'expired'));
  t.match(out, row('Orders', 'v2', 'sandbox', mismatch.url, 'hostname mismatch'));
  t.match(out, row('Pay', 'v1', 'production', tls12.url, 'protocol'));
  t.match(out, row('Pay', 'v1', 'sandbox', `https://127.0.0.1:${closed}`, 'unreachable'));
  t.match(out, row('Legacy', 'v1', 'production', `https://127.0.0.1:${silent.port}`, 'timeout'));
  t.match(out, row('Legacy', 'v1', 'sandbox', ok.url, 'pending'));

  // The presented certificate under the row, also when it was refused.
  const block = (start: RegExp) => {
    const from = out.search(start);
    const rest = out.slice(from).split('\n');
    const end = rest.findIndex((line, i) => i > 0 && !line.startsWith('    '));
    return rest.slice(0, end).join('\n');
  };
  t.match(block(row('Shop', '1.0', 'production', `${ok.url}/api`, 'OK')), /certificate\s+CN=ok\.test, issuer CN=Check Test CA, notAfter \d{4}-\d\d-\d\dT.*, TLSv1\.3/);
  const untrusted = block(row('Shop', '1.0', 'sandbox', `${ok.url}/api`, 'untrusted'));
  t.match(untrusted, /certificate\s+CN=ok\.test, issuer CN=Check Test CA/, 'the refused certificate is shown');
  t.match(untrusted, /hint\s+the backend presents "CN=ok\.test" \(issuer "CN=Check Test CA"\), which is issued by a CA this endpoint does not trust; this endpoint trusts certificate other-ca\./);
  t.match(untrusted, /`gatehouse cert fetch https:\/\/127\.0\.0\.1:\d+ --alias NAME`/);
  const expiredBlock = block(row('Orders', 'v2', 'production', expired.url, 'expired'));
  t.match(expiredBlock, /certificate\s+CN=expired\.test, issuer CN=Check Test CA, notAfter/);
  t.match(expiredBlock, /error\s+backend certificate not trusted: CERT_HAS_EXPIRED/);
  t.match(expiredBlock, /hint\s+the backend presents "CN=expired\.test" .*which expired on \d{4}-\d\d-\d\d \(2 days ago\): its owner must renew it/);
  t.match(block(row('Orders', 'v2', 'sandbox', mismatch.url, 'hostname mismatch')), /which names DNS:other\.test but not "127\.0\.0\.1" \(from the URL\), which the Strict hostname verifier checks/);
  t.match(block(row('Pay', 'v1', 'production', tls12.url, 'protocol')), /this endpoint allows TLSv1\.3\)/);
  t.match(block(row('Pay', 'v1', 'sandbox', `https://127.0.0.1:${closed}`, 'unreachable')), new RegExp(`nothing accepted a connection at 127\\.0\\.0\\.1:${closed} \\(ECONNREFUSED\\)`));
  t.match(block(row('Legacy', 'v1', 'production', `https://127.0.0.1:${silent.port}`, 'timeout')), /no connection and TLS handshake within timeouts\.connect \(300ms\)/);
  t.match(block(row('Legacy', 'v1', 'sandbox', ok.url, 'pending')), /no file for certificate alias "not-yet" in certs\/ yet: this endpoint answers 503 CERTIFICATE_PENDING/);
  t.match(out, /^gateway\.yaml: 8 endpoints: 1 OK, 7 failing \(1 untrusted, 1 expired, 1 hostname mismatch, 1 protocol, 1 unreachable, 1 timeout, 1 pending\)$/m);
  t.match(res.stderr, /warning  apis\[3\]\.endpoints\.sandbox\.certificate: no file for certificate alias "not-yet"/, 'the configuration\'s warnings go to stderr');
  t.ok(silent.connections() >= 1, 'the silent backend was connected to');
  t.equal(ok.requests.length, 0, 'check sends no request, only handshakes');
});

t.test('every outcome, as JSON for scripts', async (t) => {
  const { dir, ok } = await everyOutcome(t);
  const res = await runCli(['check', '--format', 'json'], { cwd: dir });
  t.equal(res.code, 1, res.stderr);
  const report = JSON.parse(res.stdout) as CheckJson;
  t.equal(report.ok, false);
  t.equal(report.valid, true);
  const byPath = Object.fromEntries(report.endpoints.map((e) => [e.path, e]));
  t.same(
    report.endpoints.map((e) => [e.path, e.result, e.code ?? null]),
    [
      ['apis[0].endpoints.production', 'ok', null],
      ['apis[0].endpoints.sandbox', 'untrusted', 'BACKEND_TLS_UNTRUSTED'],
      ['apis[1].endpoints.production', 'expired', 'BACKEND_TLS_UNTRUSTED'],
      ['apis[1].endpoints.sandbox', 'hostname-mismatch', 'BACKEND_HOSTNAME_MISMATCH'],
      ['apis[2].endpoints.production', 'protocol', 'BACKEND_TLS_PROTOCOL'],
      ['apis[2].endpoints.sandbox', 'unreachable', 'BACKEND_UNREACHABLE'],
      ['apis[3].endpoints.production', 'timeout', 'BACKEND_TIMEOUT'],
      ['apis[3].endpoints.sandbox', 'pending', 'CERTIFICATE_PENDING'],
    ],
  );
  t.match(byPath['apis[0].endpoints.production'], { api: 'Shop', version: '1.0', endpoint: 'production', url: `${ok.url}/api`, tlsVersion: 'TLSv1.3', certificate: { subject: 'CN=ok.test', issuer: 'CN=Check Test CA', fingerprint256: /^[0-9A-F:]{95}$/ } });
  t.notOk(byPath['apis[0].endpoints.production']!.hint, 'no hint for a healthy endpoint');
  t.match(byPath['apis[0].endpoints.sandbox'], { reason: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', certificate: { subject: 'CN=ok.test' } });
  t.match(byPath['apis[1].endpoints.production'], { reason: 'CERT_HAS_EXPIRED', certificate: { subject: 'CN=expired.test', notAfter: expiredLeaf.cert.validity.notAfter.toISOString().replace(/\.\d+Z$/, '.000Z') } });
  t.match(byPath['apis[1].endpoints.sandbox'], { reason: 'ERR_TLS_CERT_ALTNAME_INVALID', certificate: { subject: 'CN=other.test' } });
  t.notOk(byPath['apis[2].endpoints.production']!.certificate, 'no certificate when the handshake failed before it');
  t.match(byPath['apis[2].endpoints.production'], { reason: /^ERR_SSL_/ });
  t.match(byPath['apis[2].endpoints.sandbox'], { reason: 'ECONNREFUSED' });
  t.match(byPath['apis[3].endpoints.production'], { reason: 'UND_ERR_CONNECT_TIMEOUT' });
  t.match(byPath['apis[3].endpoints.sandbox'], { reason: 'not-yet', hint: /gatehouse cert fetch https:\/\/127\.0\.0\.1:\d+ --alias not-yet/ });
  t.same(report.summary, {
    endpoints: 8,
    ok: 1,
    failing: 7,
    results: { ok: 1, untrusted: 1, expired: 1, 'hostname-mismatch': 1, protocol: 1, unreachable: 1, timeout: 1, pending: 1 },
  });
  t.same(report.warnings.map((w) => w.code), ['CERT_PENDING']);
});

t.test('every endpoint OK: exit 0', async (t) => {
  const a = await startBackend(t, { certificate: okLeaf });
  const b: Backend = await startBackend(t);
  const config = `version: 1
apis:
  - name: Shop
    context: /shop
    version: "1.0"
    endpoints:
      production: { url: "${a.url}", certificate: check-ca }
      sandbox: { url: "${b.url}/plain" }
  - { name: Named, context: /named, version: v1, endpoints: { production: { url: "${a.url}", certificate: check-ca, tls: { serverName: ok.test } } } }
`;
  const dir = t.testdir({ 'gateway.yaml': config, certs: { 'check-ca.crt': ca.certPem } });
  const res = await runCli(['check', '-c', 'gateway.yaml'], { cwd: dir });
  t.equal(res.code, 0, res.stdout + res.stderr);
  t.match(res.stdout, row('Shop', '1.0', 'production', a.url, 'OK'));
  t.match(res.stdout, row('Shop', '1.0', 'sandbox', `${b.url}/plain`, 'OK'));
  t.match(res.stdout, /certificate\s+none: plain HTTP/);
  t.match(res.stdout, row('Named', 'v1', 'production', a.url, 'OK'));
  t.match(res.stdout, /^gateway\.yaml: 3 endpoints: 3 OK$/m);
  const json = await runCli(['check', '--format', 'json'], { cwd: dir });
  t.equal(json.code, 0);
  t.same((JSON.parse(json.stdout) as CheckJson).endpoints.map((e) => e.result), ['ok', 'ok', 'ok']);
  t.equal(b.requests.length, 0, 'no request was sent');
});

t.test('a certificate expiring within certs.warnBefore is OK with a note', async (t) => {
  const soon = issue({ cn: 'soon.test', sans: ['127.0.0.1'], issuer: ca, notAfter: daysFromNow(5.5), keyIndex: 1 });
  const backend = await startBackend(t, { certificate: soon });
  const config = `version: 1
certs: { warnBefore: 30d }
apis:
  - { name: Soon, context: /soon, version: v1, endpoints: { production: { url: "${backend.url}", certificate: check-ca } } }
`;
  const dir = t.testdir({ 'gateway.yaml': config, certs: { 'check-ca.crt': ca.certPem } });
  const res = await runCli(['check'], { cwd: dir });
  t.equal(res.code, 0, res.stdout);
  t.match(res.stdout, /note\s+the backend's certificate expires on \d{4}-\d\d-\d\d, in 5 days \(within certs\.warnBefore, 30d\): have it renewed/);
});

t.test('an invalid configuration: its errors, as validate prints them, and exit 1; usage errors exit 2', async (t) => {
  const dir = t.testdir({ 'gateway.yaml': 'version: 1\napis:\n  - name: X\n    contxt: /x\n', certs: {} });
  const res = await runCli(['check'], { cwd: dir });
  t.equal(res.code, 1);
  t.match(res.stdout, /^gateway\.yaml:4:5  apis\[0\]\.contxt: unknown key "contxt"/m);
  t.match(res.stdout, /^gateway\.yaml: invalid: \d+ errors?; no endpoint checked/m);
  const json = await runCli(['check', '--format', 'json'], { cwd: dir });
  t.equal(json.code, 1);
  const report = JSON.parse(json.stdout) as { ok: boolean; valid: boolean; endpoints: unknown[]; errors: { code: string; line: number }[] };
  t.match(report, { ok: false, valid: false, endpoints: [] });
  t.ok(report.errors.some((e) => e.code === 'CONFIG_UNKNOWN_KEY' && e.line === 4), 'the unknown key, with its line');
  const usage = await runCli(['check', '--format', 'github'], { cwd: dir });
  t.equal(usage.code, 2);
  t.match(usage.stderr, /--format must be one of text, json \(got "github"\)/);
});
