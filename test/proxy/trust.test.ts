// Backend trust (docs/certificates.md), against real HTTPS backends with certificates made at
// test time: exactly the endpoint's certificates are trusted, a leaf is trusted as is, endpoints
// are isolated, a missing alias is pending, and a refused certificate is named in the log.
import t from 'tap';
import { startBackend } from '../helpers/backend.js';
import { json, request } from '../helpers/client.js';
import { apiConfig, startTestGateway } from '../helpers/gateway.js';
import { createCA, daysFromNow, issue } from '../helpers/pki.js';

const privateCA = createCA('Trust Test Private CA', { keyIndex: 0 });
const leaf = issue({ cn: 'backend.test', sans: ['127.0.0.1', 'backend.test'], issuer: privateCA, keyIndex: 1 });
const otherCA = createCA('Trust Test Other CA', { keyIndex: 2 });
const otherLeaf = issue({ cn: 'other.test', sans: ['127.0.0.1'], issuer: otherCA, keyIndex: 3 });

interface ErrorBody {
  error: { code: string; message: string; requestId: string };
}

t.test('a backend whose CA is the trusted alias: 200, through verified TLS', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: private-ca }`), { certs: { 'private-ca.crt': privateCA.certPem } });
  const res = await request(`${gw.url}/api/v1/hello`);
  t.equal(res.status, 200);
  t.equal(json<{ url: string }>(res).url, '/hello');
});

t.test('a leaf issued by a private CA that is not in certs/ is trusted as it is', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: backend-leaf }`), { certs: { 'backend-leaf.crt': leaf.certPem } });
  const res = await request(`${gw.url}/api/v1/leaf`);
  t.equal(res.status, 200, res.text);
});

t.test('without a certificate of its own an endpoint trusts only the public roots: a private backend is refused', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}" }`));
  const res = await request(`${gw.url}/api/v1/x`, { headers: { 'x-request-id': 'untrusted-1' } });
  t.equal(res.status, 502);
  t.same(json<ErrorBody>(res), {
    error: {
      code: 'BACKEND_TLS_UNTRUSTED',
      message: `API "Test" version v1, production endpoint: the backend's TLS certificate is not trusted`,
      requestId: 'untrusted-1',
    },
  });
  t.equal(backend.requests.length, 0, 'the backend never received the request');
  const line = await gw.logs.request('untrusted-1');
  t.match(line, {
    status: 502,
    code: 'BACKEND_TLS_UNTRUSTED',
    api: 'Test',
    version: 'v1',
    endpoint: 'production',
    backend: backend.url,
    error: { message: 'backend certificate not trusted: UNABLE_TO_GET_ISSUER_CERT_LOCALLY' },
    hint: /^the backend presents "CN=backend\.test" \(issuer "CN=Trust Test Private CA"\), which is issued by a CA this endpoint does not trust; this endpoint trusts the system roots\./,
    presentedCertificate: { subject: 'CN=backend.test', issuer: 'CN=Trust Test Private CA', notAfter: /^\d{4}-/, fingerprint256: /^[0-9A-F:]{95}$/ },
    trusted: 'system roots',
  });
  t.notMatch(res.text, /backend\.test|Private CA/, 'the client does not see certificate details');
});

t.test('isolation: one endpoint\'s certificate never makes another endpoint\'s backend trusted', async (t) => {
  const backendA = await startBackend(t, { certificate: leaf });
  const backendB = await startBackend(t, { certificate: otherLeaf });
  const config = `version: 1
apis:
  - { name: A, context: /a, version: v1, endpoints: { production: { url: "${backendA.url}", certificate: ca-a } } }
  - { name: B, context: /b, version: v1, endpoints: { production: { url: "${backendB.url}", certificate: ca-b } } }
  - { name: C, context: /c, version: v1, endpoints: { production: { url: "${backendB.url}", certificate: ca-a } } }
`;
  const gw = await startTestGateway(t, config, { certs: { 'ca-a.crt': privateCA.certPem, 'ca-b.crt': otherCA.certPem } });
  t.equal((await request(`${gw.url}/a/v1/`)).status, 200, 'A trusts its own backend');
  t.equal((await request(`${gw.url}/b/v1/`)).status, 200, 'B trusts its own backend');
  const c = await request(`${gw.url}/c/v1/`);
  t.equal(c.status, 502, "C does not trust B's backend with A's certificate");
  t.equal(json<ErrorBody>(c).error.code, 'BACKEND_TLS_UNTRUSTED');
  t.equal(backendB.requests.length, 1, "B's backend saw only B's request");
});

t.test('trustSystemCAs: true adds the public roots, which never vouch for a private backend', async (t) => {
  const backend = await startBackend(t, { certificate: otherLeaf });
  const config = apiConfig(`{ url: "${backend.url}", certificate: private-ca, tls: { trustSystemCAs: true } }`);
  const gw = await startTestGateway(t, config, { certs: { 'private-ca.crt': privateCA.certPem } });
  const res = await request(`${gw.url}/api/v1/`);
  t.equal(res.status, 502);
  t.equal(json<ErrorBody>(res).error.code, 'BACKEND_TLS_UNTRUSTED');
  t.same(gw.gateway.holder.current.config.apis[0]!.production.targets[0]!.tls.trustSystemCAs, true);
});

t.test('a rotation list trusts both the old and the new certificate', async (t) => {
  const backendOld = await startBackend(t, { certificate: leaf });
  const backendNew = await startBackend(t, { certificate: otherLeaf });
  const config = `version: 1
apis:
  - { name: Old, context: /old, version: v1, endpoints: { production: { url: "${backendOld.url}", certificate: [ca-2025, ca-2026] } } }
  - { name: New, context: /new, version: v1, endpoints: { production: { url: "${backendNew.url}", certificate: [ca-2025, ca-2026] } } }
`;
  const gw = await startTestGateway(t, config, { certs: { 'ca-2025.crt': privateCA.certPem, 'ca-2026.crt': otherCA.certPem } });
  t.equal((await request(`${gw.url}/old/v1/`)).status, 200);
  t.equal((await request(`${gw.url}/new/v1/`)).status, 200);
});

t.test('an expired backend certificate is refused even when pinned, and the log says it expired', async (t) => {
  const expired = issue({ cn: 'expired.test', sans: ['127.0.0.1'], notBefore: daysFromNow(-20), notAfter: daysFromNow(-1), keyIndex: 1 });
  const backend = await startBackend(t, { certificate: expired });
  const config = apiConfig(`{ url: "${backend.url}", certificate: expired }`, '', 'certs: { expired: warn }\n');
  const gw = await startTestGateway(t, config, { certs: { 'expired.crt': expired.certPem } });
  const res = await request(`${gw.url}/api/v1/`, { headers: { 'x-request-id': 'expired-1' } });
  t.equal(res.status, 502);
  t.equal(json<ErrorBody>(res).error.code, 'BACKEND_TLS_UNTRUSTED');
  const line = await gw.logs.request('expired-1');
  t.match(line, { error: { message: 'backend certificate not trusted: CERT_HAS_EXPIRED' }, presentedCertificate: { subject: 'CN=expired.test' } });
  t.equal(backend.requests.length, 0);
});

t.test('a pending alias answers 503 CERTIFICATE_PENDING while every other API works', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const config = `version: 1
apis:
  - { name: Ready, context: /ready, version: v1, endpoints: { production: { url: "${backend.url}", certificate: ca } } }
  - { name: Waiting, context: /waiting, version: v1, endpoints: { production: { url: "${backend.url}", certificate: not-yet } } }
`;
  const gw = await startTestGateway(t, config, { certs: { 'ca.crt': privateCA.certPem } });
  const waiting = await request(`${gw.url}/waiting/v1/x`, { headers: { 'x-request-id': 'pending-1' } });
  t.equal(waiting.status, 503);
  t.same(json<ErrorBody>(waiting).error, {
    code: 'CERTIFICATE_PENDING',
    message: `API "Waiting" version v1, production endpoint: the backend's certificate is not installed yet`,
    requestId: 'pending-1',
  });
  t.match(await gw.logs.request('pending-1'), { status: 503, code: 'CERTIFICATE_PENDING', pendingCertificates: ['not-yet'] });
  t.equal((await request(`${gw.url}/ready/v1/x`)).status, 200);
  t.equal(backend.requests.length, 1, 'the pending endpoint never reached the backend');
  t.ok(gw.logs.find((l) => l.msg.includes('CERT_PENDING')), 'the pending alias was logged as a warning at start');
});
