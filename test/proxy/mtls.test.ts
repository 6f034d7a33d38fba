// Client certificates towards backends (SPEC §9, docs/endpoints.md#mutual-tls), against a real
// HTTPS backend that requires one: a PEM pair, an encrypted key, PKCS#12, a refusal (none offered,
// or one the backend does not trust), a pending pair, a rotation under load, what `check` says,
// and secrets that never reach a log line, /status or a message.
import { spawn } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import t from 'tap';
import type { Test } from 'tap';
import type { StatusDocument } from '../../src/admin/status.js';
import { checkEndpoints } from '../../src/commands/check.js';
import { closedPort } from '../helpers/backend.js';
import { json, request } from '../helpers/client.js';
import { apiConfig, startTestGateway } from '../helpers/gateway.js';
import { createCA, issue, pkcs12 } from '../helpers/pki.js';
import type { Issued } from '../helpers/pki.js';
import { parsePrometheus, select } from '../helpers/prometheus.js';
import { untilAsync } from '../helpers/wait.js';
import { loadFixture, oneApi } from '../helpers/workspace.js';

const serverCA = createCA('mTLS Server CA', { keyIndex: 0 });
const server = issue({ cn: 'payments.test', sans: ['127.0.0.1'], issuer: serverCA, keyIndex: 1 });
const clientCA = createCA('mTLS Client CA', { keyIndex: 2 });
const client = issue({ cn: 'gateway-2026', issuer: clientCA, keyIndex: 3, clientAuth: true });
const renewed = issue({ cn: 'gateway-2027', issuer: clientCA, keyIndex: 4, clientAuth: true });
const stranger = issue({ cn: 'stranger', issuer: createCA('mTLS Other CA', { keyIndex: 5 }), keyIndex: 6, clientAuth: true });
const PASSPHRASE = 'correct horse battery staple';

interface ErrorBody {
  error: { code: string; message: string; requestId: string };
}

/** A backend that requires a client certificate issued by clientCA, and answers its CN. */
async function paymentsBackend(t: Test): Promise<{ url: string }> {
  const backend = https.createServer({ key: server.keyPem, cert: server.certPem, ca: clientCA.certPem, requestCert: true, rejectUnauthorized: true }, (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    res.end(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN));
  });
  backend.on('tlsClientError', () => undefined);
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  t.teardown(() => {
    backend.closeAllConnections();
    backend.close();
  });
  return { url: `https://127.0.0.1:${(backend.address() as AddressInfo).port}` };
}

const pem = (c: Issued) => ({ 'gw.crt': c.certPem, 'gw.key': c.keyPem, 'server-ca.crt': serverCA.certPem });
const encrypted = (c: Issued) => createPrivateKey(c.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSPHRASE }) as string;

t.test('a PEM pair: the backend that requires a client certificate answers', async (t) => {
  const backend = await paymentsBackend(t);
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: server-ca, clientCertificate: gw }`), { certs: pem(client) });
  const res = await request(`${gw.url}/api/v1/pay`);
  t.equal(res.status, 200);
  t.equal(res.text, 'gateway-2026', 'the backend saw the gateway-2026 certificate');
  const scrape = parsePrometheus((await request(`${gw.adminUrl}/metrics`)).text);
  t.equal(select(scrape, 'gatehouse_certificate_not_after_seconds', { alias: 'gw', use: 'client' }).length, 1, 'the client certificate has its expiry series');
  t.equal(select(scrape, 'gatehouse_certificate_not_after_seconds', { alias: 'server-ca', use: 'trust' }).length, 1, 'the trusted one says use="trust"');
  const status = (await request(`${gw.adminUrl}/status`)).text;
  t.match((JSON.parse(status) as StatusDocument).apis[0]!.endpoints.production, { clientCertificate: { alias: 'gw', subject: 'CN=gateway-2026' } });
  t.notMatch(status, /PRIVATE KEY/, 'no key in /status');
});

t.test('an encrypted key opened by tls.clientCertificatePassphrase from the environment; the passphrase is never shown', async (t) => {
  const backend = await paymentsBackend(t);
  const gw = await startTestGateway(
    t,
    apiConfig(`{ url: "${backend.url}", certificate: server-ca, clientCertificate: gw, tls: { clientCertificatePassphrase: "\${PAYMENTS_KEY_PASS}" } }`),
    { certs: { ...pem(client), 'gw.key': encrypted(client) } },
    { env: { PAYMENTS_KEY_PASS: PASSPHRASE } },
  );
  t.equal((await request(`${gw.url}/api/v1/pay`)).text, 'gateway-2026');
  const status = (await request(`${gw.adminUrl}/status`)).text;
  t.notMatch(status, PASSPHRASE, 'not in /status');
  t.notMatch(JSON.stringify(gw.logs.lines), PASSPHRASE, 'not in any log line');
});

t.test('a PKCS#12 file with its passphrase', async (t) => {
  const backend = await paymentsBackend(t);
  const gw = await startTestGateway(
    t,
    apiConfig(`{ url: "${backend.url}", certificate: server-ca, clientCertificate: gw, tls: { clientCertificatePassphrase: "\${P12_PASS}" } }`),
    { certs: { 'gw.p12': pkcs12(client, PASSPHRASE, [clientCA]), 'server-ca.crt': serverCA.certPem } },
    { env: { P12_PASS: PASSPHRASE } },
  );
  t.equal((await request(`${gw.url}/api/v1/pay`)).text, 'gateway-2026');
});

t.test('refused: 502 BACKEND_TLS_CLIENT_CERTIFICATE, the log says what was offered', async (t) => {
  const backend = await paymentsBackend(t);
  // Node's TLS server closes on a client certificate it does not trust without an alert; OpenSSL's
  // (as nginx's stream proxy, Java and Go) sends one: unknown CA.
  const strict = await opensslServer(t);
  const config = `version: 1
apis:
  - { name: None, context: /none, version: v1, endpoints: { production: { url: "${backend.url}", certificate: server-ca } } }
  - { name: Stranger, context: /stranger, version: v1, endpoints: { production: { url: "${strict.url}", certificate: server-ca, clientCertificate: stranger } } }
`;
  const gw = await startTestGateway(t, config, { certs: { 'server-ca.crt': serverCA.certPem, 'stranger.crt': stranger.certPem, 'stranger.key': stranger.keyPem } });
  const none = await request(`${gw.url}/none/v1/pay`, { headers: { 'x-request-id': 'mtls-none' } });
  t.equal(none.status, 502);
  t.same(json<ErrorBody>(none).error, { code: 'BACKEND_TLS_CLIENT_CERTIFICATE', message: `API "None" version v1, production endpoint: the backend refused the gateway's client certificate`, requestId: 'mtls-none' });
  const noneLine = await gw.logs.request('mtls-none');
  t.equal(noneLine.offeredClientCertificate, 'none');
  t.match(noneLine.hint, /asks for a client certificate and none is configured \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\): set clientCertificate/);

  const refused = await request(`${gw.url}/stranger/v1/pay`, { headers: { 'x-request-id': 'mtls-stranger' } });
  t.equal(json<ErrorBody>(refused).error.code, 'BACKEND_TLS_CLIENT_CERTIFICATE');
  const line = await gw.logs.request('mtls-stranger');
  t.match(line.offeredClientCertificate, { alias: 'stranger', subject: 'CN=stranger', issuer: 'CN=mTLS Other CA' });
  t.match(line.hint, /refused the client certificate "stranger" \("CN=stranger", issued by "CN=mTLS Other CA", expires .*\) \(ERR_SSL_TLSV1_ALERT_UNKNOWN_CA\): the backend must trust its issuer/);
  t.notMatch(JSON.stringify(gw.logs.lines), /PRIVATE KEY/, 'no key in any log line');

  const checked = await checkEndpoints(gw.gateway.holder.current.config, gw.dir);
  t.same(
    checked.map((c) => [c.api, c.result]),
    [
      ['None', 'client-certificate'],
      ['Stranger', 'client-certificate'],
    ],
    'check tells a refused client certificate from a handshake that went through',
  );
});

/** `openssl s_server` requiring a client certificate from clientCA, on a free port. */
async function opensslServer(t: Test): Promise<{ url: string }> {
  const dir = t.testdir({ 'server.crt': server.certPem, 'server.key': server.keyPem, 'client-ca.crt': clientCA.certPem });
  const port = await closedPort();
  const child = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', 'server.crt', '-key', 'server.key', '-CAfile', 'client-ca.crt', '-Verify', '1', '-verify_return_error', '-www', '-quiet'], { cwd: dir, stdio: 'ignore' });
  t.teardown(() => void child.kill());
  await untilAsync(
    () =>
      new Promise<boolean>((resolve) => {
        const probe = net.connect(port, '127.0.0.1', () => resolve(probe.destroy() !== undefined));
        probe.on('error', () => resolve(false));
      }),
    'openssl s_server to listen',
  );
  return { url: `https://127.0.0.1:${port}` };
}

t.test('check says OK when the backend accepts the client certificate', async (t) => {
  const backend = await paymentsBackend(t);
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: server-ca, clientCertificate: gw }`), { certs: pem(client) });
  const [checked] = await checkEndpoints(gw.gateway.holder.current.config, gw.dir);
  t.equal(checked?.result, 'ok');
});

t.test('a pair whose files are not there yet: 503 CERTIFICATE_PENDING, served once they are dropped in', async (t) => {
  const backend = await paymentsBackend(t);
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: server-ca, clientCertificate: gw }`), { certs: { 'server-ca.crt': serverCA.certPem } });
  const pending = await request(`${gw.url}/api/v1/pay`);
  t.equal(pending.status, 503);
  t.equal(json<ErrorBody>(pending).error.code, 'CERTIFICATE_PENDING');
  writeFileSync(path.join(gw.dir, 'certs', 'gw.key'), client.keyPem);
  writeFileSync(path.join(gw.dir, 'certs', 'gw.crt'), client.certPem);
  const outcome = await gw.gateway.reloader.reloadNow('test');
  t.equal(outcome.kind, 'applied');
  t.equal((await request(`${gw.url}/api/v1/pay`)).text, 'gateway-2026');
});

t.test('a renewed pair dropped in: new connections present it, with no failed request under load', async (t) => {
  const backend = await paymentsBackend(t);
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: server-ca, clientCertificate: gw }`), { certs: pem(client) });
  const seen = new Set<string>();
  const failures: string[] = [];
  let stop = false;
  const load = async () => {
    while (!stop) {
      const res = await request(`${gw.url}/api/v1/pay`);
      if (res.status === 200) seen.add(res.text);
      else failures.push(`${res.status} ${res.text}`);
    }
  };
  const clients = [load(), load(), load()];
  await new Promise((resolve) => setTimeout(resolve, 200));
  writeFileSync(path.join(gw.dir, 'certs', 'gw.key'), renewed.keyPem);
  writeFileSync(path.join(gw.dir, 'certs', 'gw.crt'), renewed.certPem);
  const outcome = await gw.gateway.reloader.reloadNow('test');
  t.equal(outcome.kind, 'applied');
  await new Promise((resolve) => setTimeout(resolve, 200));
  stop = true;
  await Promise.all(clients);
  t.same(failures, []);
  t.same([...seen].sort(), ['gateway-2026', 'gateway-2027'], 'the old pair served until the reload, the renewed one after');
  t.equal((await request(`${gw.url}/api/v1/pay`)).text, 'gateway-2027');
});

t.test('validate names the file and the alias of a pair that cannot be used', async (t) => {
  const endpoint = '{ url: "https://payments.internal", clientCertificate: gw, tls: { clientCertificatePassphrase: "${PASS}" } }';
  const mismatched = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint), certs: { 'gw.crt': client.certPem, 'gw.key': renewed.keyPem } }, { env: { PASS: 'x' } });
  t.equal(mismatched.config, undefined);
  t.match(mismatched.text, /apis\[0\]\.endpoints\.production\.clientCertificate: client certificate "gw": the private key certs\/gw\.key does not match the certificate certs\/gw\.crt.*\[CLIENT_CERTIFICATE\]/);

  const wrong = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint), certs: { 'gw.crt': client.certPem, 'gw.key': encrypted(client) } }, { env: { PASS: 'not the passphrase' } });
  t.equal(wrong.config, undefined);
  t.match(wrong.text, /client certificate "gw": the private key certs\/gw\.key does not parse: .*\(a wrong or missing tls\.clientCertificatePassphrase\?\)/);
  t.notMatch(wrong.text, /not the passphrase/, 'the passphrase is not quoted');

  const p12 = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint), certs: { 'gw.p12': pkcs12(client, PASSPHRASE) } }, { env: { PASS: 'nope' } });
  t.match(p12.text, /client certificate "gw": certs\/gw\.p12 cannot be used: wrong passphrase .*; set tls\.clientCertificatePassphrase/);

  const dir = t.testdir({ 'gateway.yaml': oneApi(endpoint), certs: { 'gw.crt': client.certPem, 'gw.key': client.keyPem } });
  // Readable by others: a warning whoever owns it (root's keys may be group-readable: see checkKeyPermissions).
  chmodSync(path.join(dir, 'certs', 'gw.key'), 0o604);
  const { loadConfig } = await import('../../src/config/load.js');
  const open = await loadConfig(path.join(dir, 'gateway.yaml'), { env: { PASS: 'x' } });
  t.ok(open.config, 'a readable key is a warning');
  t.match(
    open.diagnostics.find((d) => d.code === 'CERT_KEY_PERMISSIONS')?.message,
    /holds client certificate "gw"'s private key and is readable by others \(mode 0604\): chmod 600 certs\/gw\.key/,
  );

  const plain = await loadFixture(t, { 'gateway.yaml': oneApi('{ url: "http://payments.internal", clientCertificate: gw }'), certs: {} });
  t.match(plain.text, /clientCertificate: http:\/\/payments\.internal is plain http:\/\/, where no client certificate can be presented.*\[CONFIG_CERT_ON_HTTP\]/);
});
