// Hostname verifiers (docs/configuration.md#hostname-verifiers), each passing and failing against a real backend, on top of a
// chain that is always verified; serverName as SNI and as the name checked.
import t from 'tap';
import { startBackend } from '../helpers/backend.js';
import { json, request } from '../helpers/client.js';
import { apiConfig, startTestGateway } from '../helpers/gateway.js';
import { createCA, issue } from '../helpers/pki.js';
import type { Issued } from '../helpers/pki.js';

const ca = createCA('Verifier Test CA', { keyIndex: 0 });
const named = issue({ cn: 'api.test', sans: ['api.test'], issuer: ca, keyIndex: 1 });
const wildcard = issue({ cn: 'wild', sans: ['*.example.test'], issuer: ca, keyIndex: 1 });
const cnOnly = issue({ cn: 'cn.test', issuer: ca, keyIndex: 1 });
const ipNamed = issue({ cn: 'ip', sans: ['127.0.0.1'], issuer: ca, keyIndex: 1 });

function cnOf(issued: Issued): string {
  return String((issued.cert.subject.getField('CN') as { value: unknown }).value);
}

interface Case {
  readonly name: string;
  readonly certificate: Issued;
  readonly tls: string;
  readonly status: number;
  readonly code?: string;
}

const cases: Case[] = [
  { name: 'Strict: the SAN names serverName', certificate: named, tls: '{ serverName: api.test }', status: 200 },
  { name: 'Strict: the SAN does not name the URL host 127.0.0.1', certificate: named, tls: '{}', status: 502, code: 'BACKEND_HOSTNAME_MISMATCH' },
  { name: 'Strict: an IP SAN names the URL host', certificate: ipNamed, tls: '{}', status: 200 },
  { name: 'Strict: the CN counts when there is no SAN', certificate: cnOnly, tls: '{ serverName: cn.test }', status: 200 },
  { name: 'Strict: another name than the CN fails', certificate: cnOnly, tls: '{ serverName: other.test }', status: 502, code: 'BACKEND_HOSTNAME_MISMATCH' },
  { name: 'Strict: a wildcard matches one label', certificate: wildcard, tls: '{ serverName: a.example.test }', status: 200 },
  { name: 'Strict: a wildcard does not match two labels', certificate: wildcard, tls: '{ serverName: a.b.example.test }', status: 502, code: 'BACKEND_HOSTNAME_MISMATCH' },
  { name: 'DefaultAndLocalhost: 127.0.0.1 passes whatever the certificate names', certificate: named, tls: '{ hostnameVerifier: DefaultAndLocalhost }', status: 200 },
  {
    name: 'DefaultAndLocalhost: another host is checked as Strict',
    certificate: named,
    tls: '{ hostnameVerifier: DefaultAndLocalhost, serverName: elsewhere.test }',
    status: 502,
    code: 'BACKEND_HOSTNAME_MISMATCH',
  },
  { name: 'AllowAll: any name passes', certificate: named, tls: '{ hostnameVerifier: AllowAll, serverName: elsewhere.test }', status: 200 },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const backend = await startBackend(t, { certificate: c.certificate });
    const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: ca, tls: ${c.tls} }`), { certs: { 'ca.crt': ca.certPem } });
    const res = await request(`${gw.url}/api/v1/`, { headers: { 'x-request-id': 'verifier' } });
    t.equal(res.status, c.status, res.text);
    if (c.code) {
      t.equal(json<{ error: { code: string } }>(res).error.code, c.code);
      t.equal(backend.requests.length, 0, 'the backend never received the request');
      const line = await gw.logs.request('verifier');
      t.match(line, {
        code: c.code,
        presentedCertificate: { subject: `CN=${cnOf(c.certificate)}` },
        hint: /^the backend presents .*, which names .* but not ".*" \(from (the URL|tls\.serverName)\), which the \w+ hostname verifier checks; set tls\.serverName to one of its names, have it reissued with ".*" in its SANs, or use hostnameVerifier AllowAll$/,
      });
    }
  });
}

t.test('AllowAll never skips the chain: an untrusted certificate is still refused', async (t) => {
  const stranger = issue({ cn: 'api.test', sans: ['api.test', '127.0.0.1'], keyIndex: 2 });
  const backend = await startBackend(t, { certificate: stranger });
  const gw = await startTestGateway(t, apiConfig(`{ url: "${backend.url}", certificate: ca, tls: { hostnameVerifier: AllowAll } }`), { certs: { 'ca.crt': ca.certPem } });
  const res = await request(`${gw.url}/api/v1/`);
  t.equal(res.status, 502);
  t.equal(json<{ error: { code: string } }>(res).error.code, 'BACKEND_TLS_UNTRUSTED');
  t.equal(backend.requests.length, 0);
});

t.test('serverName is sent as SNI; an IP URL without serverName sends none', async (t) => {
  const backend = await startBackend(t, { certificate: named });
  const gw = await startTestGateway(
    t,
    `version: 1
apis:
  - { name: Named, context: /named, version: v1, endpoints: { production: { url: "${backend.url}", certificate: ca, tls: { serverName: api.test } } } }
  - { name: Local, context: /local, version: v1, endpoints: { production: { url: "${backend.url}", certificate: ca, tls: { hostnameVerifier: DefaultAndLocalhost } } } }
`,
    { certs: { 'ca.crt': ca.certPem } },
  );
  t.equal((await request(`${gw.url}/named/v1/`)).status, 200);
  t.equal((await request(`${gw.url}/local/v1/`)).status, 200);
  t.equal(backend.requests[0]!.servername, 'api.test', 'SNI carries serverName');
  t.equal(backend.requests[1]!.servername, undefined, 'no SNI for an IP address');
  t.equal(backend.requests[0]!.headers.host, `127.0.0.1:${backend.port}`, 'the Host header stays the URL\'s');
});
