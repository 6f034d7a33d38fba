// One explanation of a backend failure: for each way an exchange can fail, the log line of the
// failed request, `gatehouse check` and reload.preflight give the user the same sentence, and
// that sentence says what is true and what to do. Real TLS backends on 127.0.0.1, certificates
// made at test time, the real gateway in this process.
import t from 'tap';
import { checkEndpoints } from '../../src/commands/check.js';
import { preflight } from '../../src/reload/preflight.js';
import { closedPort, startBackend, startSilentServer } from '../helpers/backend.js';
import { request } from '../helpers/client.js';
import { startTestGateway } from '../helpers/gateway.js';
import { createCA, daysFromNow, issue } from '../helpers/pki.js';

const ca = createCA('Explain Test CA', { keyIndex: 0 });
const good = issue({ cn: 'explain.test', sans: ['127.0.0.1'], issuer: ca, keyIndex: 1 });
const stranger = issue({ cn: 'stranger.test', sans: ['127.0.0.1'], issuer: createCA('Stranger CA', { keyIndex: 2 }), keyIndex: 3 });
const otherName = issue({ cn: 'other.test', sans: ['other.test'], issuer: ca, keyIndex: 1 });
const expired = issue({ cn: 'expired.test', sans: ['127.0.0.1'], issuer: ca, notBefore: daysFromNow(-30), notAfter: daysFromNow(-3.5), keyIndex: 3 });
// A "CA" made without CA:TRUE, and a server certificate it signed: trusting it cannot work.
const notACa = issue({ cn: 'Payments CA', isCA: false, keyIndex: 2 });
const signedByNotACa = issue({ cn: 'payments.test', sans: ['127.0.0.1'], issuer: notACa, keyIndex: 3 });

t.test('the log line, check and preflight give the same hint for the same failure', async (t) => {
  const backends = {
    untrusted: await startBackend(t, { certificate: stranger }),
    mismatch: await startBackend(t, { certificate: otherName }),
    expired: await startBackend(t, { certificate: expired }),
    notACa: await startBackend(t, { certificate: signedByNotACa }),
    protocol: await startBackend(t, { certificate: good, tls: { minVersion: 'TLSv1.3' } }),
  };
  const closed = await closedPort();
  const silent = await startSilentServer(t);
  const cases: { name: string; endpoint: string; hint: RegExp }[] = [
    {
      name: 'untrusted',
      endpoint: `{ url: "${backends.untrusted.url}", certificate: explain-ca }`,
      hint: /^the backend presents "CN=stranger\.test" \(issuer "CN=Stranger CA"\), which is issued by a CA this endpoint does not trust; this endpoint trusts certificate explain-ca\. If it is the right certificate, capture it with `gatehouse cert fetch https:\/\/127\.0\.0\.1:\d+ --alias NAME`/,
    },
    {
      name: 'mismatch',
      endpoint: `{ url: "${backends.mismatch.url}", certificate: explain-ca }`,
      hint: /^the backend presents "CN=other\.test" \(issuer "CN=Explain Test CA"\), which names DNS:other\.test but not "127\.0\.0\.1" \(from the URL\), which the Strict hostname verifier checks; set tls\.serverName to one of its names, have it reissued with "127\.0\.0\.1" in its SANs, or use hostnameVerifier AllowAll$/,
    },
    {
      name: 'expired',
      endpoint: `{ url: "${backends.expired.url}", certificate: explain-ca }`,
      hint: /^the backend presents "CN=expired\.test" \(issuer "CN=Explain Test CA"\), which expired on \d{4}-\d\d-\d\d \(3 days ago\): its owner must renew it; no trust setting makes an expired certificate acceptable$/,
    },
    {
      name: 'notACa',
      endpoint: `{ url: "${backends.notACa.url}", certificate: payments-ca }`,
      hint: /^the backend presents "CN=payments\.test" \(issuer "CN=Payments CA"\), issued by "CN=Payments CA", which this endpoint trusts as certificate "payments-ca"; but that certificate is not a CA \(CA:FALSE\), so it cannot vouch for another certificate: trust the backend's own certificate/,
    },
    {
      name: 'protocol',
      endpoint: `{ url: "${backends.protocol.url}", certificate: explain-ca, tls: { protocols: [TLSv1.2] } }`,
      hint: /^no TLS version or cipher in common with the backend \(this endpoint allows TLSv1\.2\): widen tls\.protocols or tls\.ciphers, or upgrade the backend; if 127\.0\.0\.1:\d+ speaks plain HTTP, the URL must start with http:\/\/$/,
    },
    {
      name: 'unreachable',
      endpoint: `{ url: "https://127.0.0.1:${closed}", certificate: explain-ca }`,
      hint: new RegExp(`^nothing accepted a connection at 127\\.0\\.0\\.1:${closed} \\(ECONNREFUSED\\): check the URL's host and port, that the backend runs, and firewalls$`),
    },
    {
      name: 'timeout',
      endpoint: `{ url: "https://127.0.0.1:${silent.port}", certificate: explain-ca, timeouts: { connect: 300ms } }`,
      hint: new RegExp(`^no connection and TLS handshake within timeouts\\.connect \\(300ms\\) at 127\\.0\\.0\\.1:${silent.port}: check that the backend is reachable from here and speaks TLS on that port, or raise timeouts\\.connect$`),
    },
  ];
  const apis = cases.map((c) => `  - { name: ${c.name}, context: /${c.name.toLowerCase()}, version: v1, endpoints: { production: ${c.endpoint} } }\n`).join('');
  const gw = await startTestGateway(t, `version: 1\nreload: { interval: 1h }\napis:\n${apis}`, { certs: { 'explain-ca.crt': ca.certPem, 'payments-ca.crt': notACa.certPem } });
  const { current } = gw.gateway.holder;
  const checked = await checkEndpoints(current.config, gw.dir);
  const preflighted = await preflight([...current.endpoints.values()].flatMap((e) => e.targets));

  for (const [i, c] of cases.entries()) {
    await request(`${gw.url}/${c.name.toLowerCase()}/v1/`, { headers: { 'x-request-id': `explain-${c.name}` } });
    const logged = (await gw.logs.request(`explain-${c.name}`)).hint;
    t.match(logged, c.hint, `${c.name}: the log line says what is true and what to do`);
    t.equal(checked[i]?.hint, logged, `${c.name}: check says the same`);
    t.equal(preflighted.find((f) => f.target.config.api.name === c.name)?.hint, logged, `${c.name}: preflight says the same`);
  }
  t.notMatch(checked[cases.findIndex((c) => c.name === 'expired')]?.hint ?? '', /cert fetch/, 'an expired certificate is never "fetch it again"');
});

t.test('an expired certificate the endpoint trusts: renew that file, not the backend', async (t) => {
  // certs.expired: warn loads the configuration; the handshake still fails, and says why.
  const expiredCa = createCA('Expired Explain CA', { keyIndex: 0, notBefore: daysFromNow(-60), notAfter: daysFromNow(-1.5) });
  const current = issue({ cn: 'current.test', sans: ['127.0.0.1'], issuer: expiredCa, keyIndex: 1 });
  const backend = await startBackend(t, { certificate: current });
  const gw = await startTestGateway(t, `version: 1\ncerts: { expired: warn }\napis:\n  - { name: Old, context: /old, version: v1, endpoints: { production: { url: "${backend.url}", certificate: old-ca } } }\n`, {
    certs: { 'old-ca.crt': expiredCa.certPem },
  });
  const res = await request(`${gw.url}/old/v1/`, { headers: { 'x-request-id': 'expired-ca' } });
  t.equal(res.status, 502);
  const line = await gw.logs.request('expired-ca');
  t.match(line.hint, /^the certificate "old-ca" this endpoint trusts \(CN=Expired Explain CA\) expired on \d{4}-\d\d-\d\d, and a chain through it is refused: drop its renewal into the certificates folder as old-ca\.crt \(the backend's own "CN=current\.test" \(issuer "CN=Expired Explain CA"\) is current\)$/);
});

t.test('a pending endpoint: the log line and check say the same, with the alias it was probably meant to be', async (t) => {
  const backend = await startBackend(t, { certificate: good });
  const gw = await startTestGateway(t, `version: 1\napis:\n  - { name: Typo, context: /typo, version: v1, endpoints: { production: { url: "${backend.url}", certificate: explian-ca } } }\n`, {
    certs: { 'explain-ca.crt': ca.certPem },
  });
  const res = await request(`${gw.url}/typo/v1/`, { headers: { 'x-request-id': 'pending' } });
  t.equal(res.status, 503);
  const logged = (await gw.logs.request('pending')).hint;
  t.match(logged, /^no file for certificate alias "explian-ca" in certs\/ yet \(did you mean "explain-ca"\?\): this endpoint answers 503 CERTIFICATE_PENDING until one appears\. Drop explian-ca\.crt there, or capture it with `gatehouse cert fetch https:\/\/127\.0\.0\.1:\d+ --alias explian-ca`$/);
  const [checked] = await checkEndpoints(gw.gateway.holder.current.config, gw.dir);
  t.equal(checked?.hint, logged, 'check says the same');
});
