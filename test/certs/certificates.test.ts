// The certificate stage of loading (docs/certificates.md): aliases resolved in the certificates
// folder, pending aliases, unparsable files, expiry policy, the hostname warning, folder safety.
import { symlinkSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { loadFixture, oneApi } from '../helpers/workspace.js';
import { createCA, daysFromNow, issue, pkcs12 } from '../helpers/pki.js';

const ca = createCA('Cert Stage CA');
const shop = issue({ cn: 'shop.internal', sans: ['shop.internal'], issuer: ca });
const localhost = issue({ cn: 'localhost', sans: ['localhost', '127.0.0.1'] });

const endpoint = (alias: string | string[], extra = '') =>
  `{ url: "https://shop.internal:9443/api", certificate: ${JSON.stringify(alias)}${extra} }`;

t.test('a present alias is trusted: the file is parsed and attached to the endpoint', async (t) => {
  const loaded = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')), certs: { 'shop.crt': shop.certPem } });
  t.equal(loaded.text, '');
  const production = loaded.config!.apis[0]!.production.targets[0]!;
  t.same(production.certificateAliases, ['shop']);
  t.equal(production.certificates.length, 1);
  t.equal(production.certificates[0]!.path, path.join(loaded.dir, 'certs', 'shop.crt'));
  t.equal(production.certificates[0]!.certificates[0]!.subject, 'CN=shop.internal');
  t.same(production.pendingAliases, []);
  t.equal(production.tls.trustSystemCAs, false, 'an endpoint with its own certificate does not trust the public roots');
});

t.test('.pem, .cer (DER) and .der files are found by alias', async (t) => {
  const loaded = await loadFixture(t, {
    'gateway.yaml': oneApi(endpoint(['a', 'b', 'c'])),
    certs: { 'a.pem': shop.certPem, 'b.cer': shop.der, 'c.der': shop.der, 'notes.txt': 'ignored' },
  });
  t.equal(loaded.text, '');
  t.same(
    loaded.config!.apis[0]!.production.targets[0]!.certificates.map((f) => path.basename(f.path)),
    ['a.pem', 'b.cer', 'c.der'],
  );
});

t.test('a missing alias is pending, not an error: the endpoint will answer 503 CERTIFICATE_PENDING', async (t) => {
  const loaded = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')), certs: { 'other.crt': shop.certPem } });
  t.equal(
    loaded.text,
    'gateway.yaml:7:60  warning  apis[0].endpoints.production.certificate: no file for certificate alias "shop" in certs/ yet (has: other); this endpoint answers 503 CERTIFICATE_PENDING until one appears  [CERT_PENDING]\n',
  );
  t.same(loaded.config!.apis[0]!.production.targets[0]!.pendingAliases, ['shop']);
});

t.test('during a rotation, a missing new alias leaves the old one trusted', async (t) => {
  const loaded = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint(['shop-2025', 'shop-2026'])), certs: { 'shop-2025.crt': shop.certPem } });
  t.match(loaded.text, /no file for certificate alias "shop-2026" in certs\/ yet \(has: shop-2025\); this endpoint trusts the other aliases until it appears  \[CERT_PENDING\]/);
  const production = loaded.config!.apis[0]!.production.targets[0]!;
  t.same(production.pendingAliases, ['shop-2026']);
  t.equal(production.certificates.length, 1);
});

t.test('a missing certificates folder is a warning and leaves endpoints pending', async (t) => {
  const loaded = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')) });
  t.match(loaded.text, /^certs  warning  the certificates folder does not exist: every endpoint with a certificate answers 503 CERTIFICATE_PENDING until its file appears \(certs.directory is relative to the configuration file's folder\)  \[CERT_DIRECTORY\]\n/);
  t.ok(loaded.config);
});

t.test('a certificates folder that is there but cannot be read is an error, not 503 from every endpoint', async (t) => {
  // A file where the folder should be: listing it fails as a folder without permission does
  // (which root, running these tests, cannot be refused).
  const loaded = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')), certs: 'not a folder\n' });
  t.equal(loaded.text, "certs  the certificates folder cannot be read: a part of the path is not a folder; fix its permissions (the gateway's user must list and read it)  [CERT_DIRECTORY]\n");
  t.equal(loaded.config, undefined);
});

t.test('a referenced file that does not parse fails the load, naming the file, the alias and the endpoint', async (t) => {
  const loaded = await loadFixture(t, {
    'gateway.yaml': oneApi(endpoint('shop')),
    certs: { 'shop.crt': 'this is not a certificate\n' },
  });
  t.equal(
    loaded.text,
    'certs/shop.crt  not a usable certificate file: neither PEM (no "-----BEGIN CERTIFICATE-----" line) nor a DER certificate (first bytes: 7468697320697320) (certificate alias "shop", used by apis[0].endpoints.production)  [CERT_PARSE]\n',
  );
  t.equal(loaded.config, undefined);
});

t.test('a truncated PEM names the line of the broken block', async (t) => {
  const loaded = await loadFixture(t, {
    'gateway.yaml': oneApi(endpoint('shop')),
    certs: { 'shop.crt': ca.certPem + shop.certPem.slice(0, 200) },
  });
  t.match(loaded.text, /^certs\/shop\.crt:\d+:1  not a usable certificate file: the CERTIFICATE block at line \d+ has no "-----END CERTIFICATE-----" line \(is the file truncated\?\)/);
  t.equal(loaded.config, undefined);
});

t.test('an unreferenced file that does not parse is only a warning (inventory)', async (t) => {
  const loaded = await loadFixture(t, {
    'gateway.yaml': oneApi(endpoint('shop')),
    certs: { 'shop.crt': shop.certPem, 'junk.crt': Buffer.alloc(0) },
  });
  t.equal(
    loaded.text,
    'certs/junk.crt  warning  not a usable certificate file: the file is empty (if it was being written, the next reload reads it again) (not referenced by any endpoint: inventory only)  [CERT_PARSE]\n',
  );
  t.ok(loaded.config);
  t.same(loaded.config!.inventory.map((f) => f.alias), ['shop']);
});

t.test('expired certificates: reject fails the load, warn only warns', async (t) => {
  const expired = issue({ cn: 'shop.internal', sans: ['shop.internal'], issuer: ca, notBefore: daysFromNow(-40), notAfter: daysFromNow(-10.5) });
  const notAfter = new Date(Math.floor(expired.cert.validity.notAfter.getTime() / 1000) * 1000).toISOString();
  const rejected = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')), certs: { 'shop.crt': expired.certPem } });
  t.equal(
    rejected.text,
    `certs/shop.crt  certificate "CN=shop.internal" expired on ${notAfter} (10 days ago), used by apis[0].endpoints.production: handshakes that need it fail; drop the renewed certificate in (certs.expired: warn loads the configuration anyway, and those handshakes still fail)  [CERT_EXPIRED]\n`,
  );
  t.equal(rejected.config, undefined);

  const warned = await loadFixture(t, {
    'gateway.yaml': oneApi(endpoint('shop'), 'certs: { expired: warn }\n'),
    certs: { 'shop.crt': expired.certPem },
  });
  t.equal(
    warned.text,
    `certs/shop.crt  warning  certificate "CN=shop.internal" expired on ${notAfter} (10 days ago), used by apis[0].endpoints.production: handshakes that need it fail (502 BACKEND_TLS_UNTRUSTED) until the renewed certificate is dropped in  [CERT_EXPIRED]\n`,
  );
  t.ok(warned.config);
});

t.test('a certificate expiring within warnBefore warns; beyond it, nothing', async (t) => {
  const soon = issue({ cn: 'shop.internal', sans: ['shop.internal'], issuer: ca, notAfter: daysFromNow(5.5) });
  const notAfter = new Date(Math.floor(soon.cert.validity.notAfter.getTime() / 1000) * 1000).toISOString();
  const loaded = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')), certs: { 'shop.crt': soon.certPem } });
  t.equal(
    loaded.text,
    `certs/shop.crt  warning  certificate "CN=shop.internal" expires on ${notAfter} (in 5 days), used by apis[0].endpoints.production; renew it  [CERT_EXPIRING]\n`,
  );
  const quiet = await loadFixture(t, {
    'gateway.yaml': oneApi(endpoint('shop'), 'certs: { warnBefore: 2d }\n'),
    certs: { 'shop.crt': soon.certPem },
  });
  t.equal(quiet.text, '');
});

t.test('a certificate not valid yet warns', async (t) => {
  const future = issue({ cn: 'shop.internal', sans: ['shop.internal'], issuer: ca, notBefore: daysFromNow(2.5), notAfter: daysFromNow(400) });
  const loaded = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')), certs: { 'shop.crt': future.certPem } });
  t.match(loaded.text, /^certs\/shop\.crt  warning  certificate "CN=shop.internal" is not valid before \S+ \(in 3 days\), used by apis\[0\]\.endpoints\.production; handshakes fail until then  \[CERT_NOT_YET_VALID\]\n$/);
  t.ok(loaded.config);
});

t.test('hostname warning: a leaf that does not name the verified host', async (t) => {
  const wrong = issue({ cn: 'other.internal', sans: ['other.internal', '*.example.test'] });
  const loaded = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')), certs: { 'shop.crt': wrong.certPem } });
  t.equal(
    loaded.text,
    'gateway.yaml:7:60  warning  apis[0].endpoints.production.certificate: no trusted certificate can match "shop.internal" (from the URL), which the Strict hostname verifier checks: "CN=other.internal" [DNS:other.internal, DNS:*.example.test] (self-signed, CA:FALSE). It is a server\'s own certificate, accepted only as the one the backend presents, and it does not name "shop.internal", so the handshake is bound to fail: set tls.serverName to one of its names, have it reissued with "shop.internal" in its SANs, or use hostnameVerifier AllowAll  [CERT_HOSTNAME]\n',
  );
  t.ok(loaded.config, 'a warning never blocks');
});

t.test('hostname warning: none when a name matches, a CA is trusted, or the verifier allows it', async (t) => {
  // OpenSSL, like Apache HttpClient's Strict, takes no wildcard directly over one label (*.internal).
  const wildcard = issue({ cn: 'wild', sans: ['*.example.internal'] });
  const deep = issue({ cn: 'deep', sans: ['*.example.internal'] });
  const cnOnly = issue({ cn: 'shop.internal' });
  // A self-signed CA:TRUE certificate that names a server, but did issue another: an issuer after all.
  const signingServer = issue({ cn: 'gateway-ca.internal', sans: ['gateway-ca.internal'], isCA: true, keyIndex: 1 });
  const signedByServer = issue({ cn: 'shop.internal', sans: ['shop.internal'], issuer: signingServer, keyIndex: 2 });
  const cases: [string, string, Record<string, string>, string][] = [
    ['SAN matches', endpoint('shop'), { 'shop.crt': shop.certPem }, ''],
    ['a wildcard matches one label', `{ url: "https://shop.example.internal", certificate: w }`, { 'w.crt': wildcard.certPem }, ''],
    ['the CN counts when there is no SAN', endpoint('cn'), { 'cn.crt': cnOnly.certPem }, ''],
    ['a CA may have issued a matching leaf', endpoint('ca'), { 'ca.crt': ca.certPem }, ''],
    ['a self-signed CA that signed the other certificate of its file is an issuer', endpoint('pair'), { 'pair.crt': signingServer.certPem + signedByServer.certPem }, ''],
    ['serverName names the certificate', endpoint('w', ', tls: { serverName: other.example.internal }'), { 'w.crt': wildcard.certPem }, ''],
    [
      'DefaultAndLocalhost accepts 127.0.0.1',
      `{ url: "https://127.0.0.1:9443", certificate: wrong, tls: { hostnameVerifier: DefaultAndLocalhost } }`,
      { 'wrong.crt': shop.certPem },
      '',
    ],
    ['an IP SAN matches an IP host', `{ url: "https://127.0.0.1:9443", certificate: l }`, { 'l.crt': localhost.certPem }, ''],
  ];
  for (const [name, ep, certs, expected] of cases) {
    const loaded = await loadFixture(t, { 'gateway.yaml': oneApi(ep), certs });
    t.equal(loaded.text, expected, name);
  }
  const tooDeep = await loadFixture(t, {
    'gateway.yaml': oneApi(`{ url: "https://a.b.example.internal", certificate: d }`),
    certs: { 'd.crt': deep.certPem },
  });
  t.match(tooDeep.text, /no trusted certificate can match "a\.b\.example\.internal"/, 'a wildcard does not match two labels');
  const allowAll = await loadFixture(t, {
    'gateway.yaml': oneApi(`{ url: "https://a.b.example.internal", certificate: d, tls: { hostnameVerifier: AllowAll } }`),
    certs: { 'd.crt': deep.certPem },
  });
  t.notMatch(allowAll.text, /CERT_HOSTNAME/);
  t.match(allowAll.text, /TLS_ALLOW_ALL/);
});

t.test('hostname warning: a self-signed server certificate marked CA:TRUE (openssl req -x509) must name the host', async (t) => {
  // `openssl req -x509` writes basicConstraints CA:TRUE on a self-signed server certificate: it is
  // still the backend's own certificate, accepted only when presented, so its names decide.
  const selfSigned = issue({ cn: 'other.internal', sans: ['other.internal'], isCA: true });
  const loaded = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')), certs: { 'shop.crt': selfSigned.certPem } });
  t.equal(
    loaded.text,
    'gateway.yaml:7:60  warning  apis[0].endpoints.production.certificate: no trusted certificate can match "shop.internal" (from the URL), which the Strict hostname verifier checks: "CN=other.internal" [DNS:other.internal] (self-signed, CA:TRUE). It is a server\'s own certificate, accepted only as the one the backend presents, and it does not name "shop.internal", so the handshake is bound to fail: set tls.serverName to one of its names, have it reissued with "shop.internal" in its SANs, or use hostnameVerifier AllowAll  [CERT_HOSTNAME]\n',
  );
  const cnOnly = issue({ cn: 'other.internal', isCA: true });
  const byCn = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')), certs: { 'shop.crt': cnOnly.certPem } });
  t.match(byCn.text, /no trusted certificate can match "shop\.internal".*"CN=other\.internal" \(self-signed, CA:TRUE\)/, 'a host name in the CN names a server too');
  const matching = issue({ cn: 'shop.internal', sans: ['shop.internal'], isCA: true });
  t.equal((await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')), certs: { 'shop.crt': matching.certPem } })).text, '', 'one naming the host is fine');
});

t.test('hostname warning: a trusted "CA" that is not one (CA:FALSE, no host) is named for what it is', async (t) => {
  const notACa = issue({ cn: 'Orders CA', isCA: false });
  const loaded = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')), certs: { 'shop.crt': notACa.certPem } });
  t.equal(
    loaded.text,
    'gateway.yaml:7:60  warning  apis[0].endpoints.production.certificate: "CN=Orders CA" (self-signed, CA:FALSE) is not a CA (CA:FALSE) and names no host: it cannot vouch for the backend\'s certificate, nor be the one it presents, so every handshake fails. Trust the backend\'s own certificate (gatehouse cert fetch) or the real CA that issued it  [CERT_HOSTNAME]\n',
  );
});

t.test('two files for one referenced alias are an error', async (t) => {
  const loaded = await loadFixture(t, {
    'gateway.yaml': oneApi(endpoint('shop')),
    certs: { 'shop.crt': shop.certPem, 'shop.pem': shop.certPem },
  });
  t.equal(
    loaded.text,
    'gateway.yaml:7:73  apis[0].endpoints.production.certificate: alias "shop" is ambiguous: certs/shop.crt and certs/shop.pem both carry it; keep one  [CONFIG_ALIAS]\n',
  );
});

t.test('a file holding a private key besides the certificate warns', async (t) => {
  const loaded = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')), certs: { 'shop.crt': shop.certPem + shop.keyPem } });
  t.equal(
    loaded.text,
    'certs/shop.crt  warning  holds a private key besides the certificate: the certificates folder holds what the gateway trusts; keep keys out of it  [CERT_KEY_IN_TRUST_FILE]\n',
  );
});

t.test('a symlink leading outside the certificates folder is refused', async (t) => {
  const loaded = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')), certs: {}, 'outside.crt': shop.certPem });
  symlinkSync(path.join(loaded.dir, 'outside.crt'), path.join(loaded.dir, 'certs', 'shop.crt'));
  const { loadConfig } = await import('../../src/config/load.js');
  const again = await loadConfig(path.join(loaded.dir, 'gateway.yaml'), { env: {} });
  t.equal(again.config, undefined);
  t.match(again.diagnostics[0]!.message, /^cannot be read: it resolves to .*outside\.crt, outside the certificates folder \(.*certs\) \(certificate alias "shop", used by apis\[0\]\.endpoints\.production\)$/);
  t.equal(again.diagnostics[0]!.code, 'CERT_READ');
});

t.test("Kubernetes' ..data symlink layout inside the folder is followed", async (t) => {
  const loaded = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')), certs: { '..2026_11_23_10_00_00.123': { 'shop.crt': shop.certPem } } });
  const certs = path.join(loaded.dir, 'certs');
  symlinkSync('..2026_11_23_10_00_00.123', path.join(certs, '..data'));
  symlinkSync('..data/shop.crt', path.join(certs, 'shop.crt'));
  const { loadConfig } = await import('../../src/config/load.js');
  const again = await loadConfig(path.join(loaded.dir, 'gateway.yaml'), { env: {} });
  t.same(again.diagnostics, []);
  t.equal(again.config!.apis[0]!.production.targets[0]!.certificates[0]!.certificates[0]!.subject, 'CN=shop.internal');
});

t.test('a file above the size limit is refused without being read whole', async (t) => {
  const loaded = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint('shop')), certs: { 'shop.crt': Buffer.alloc(1024 * 1024 + 1, 0x41) } });
  t.equal(
    loaded.text,
    'certs/shop.crt  cannot be read: it is 1048577 bytes, above the limit of 1048576 bytes for a certificate file (certificate alias "shop", used by apis[0].endpoints.production)  [CERT_READ]\n',
  );
});

t.test('the HTTPS listener certificate: PEM pair, PKCS#12, and what goes wrong', async (t) => {
  const gateway = issue({ cn: 'gateway.local', sans: ['gateway.local'], keyIndex: 1 });
  const other = issue({ cn: 'other', keyIndex: 2 });
  const config = (extra = '') => `version: 1\nlisten: { https: { address: "127.0.0.1:0", certificate: gw${extra} } }\napis: []\n`;

  const pem = await loadFixture(t, { 'gateway.yaml': config(), certs: { 'gw.crt': gateway.certPem, 'gw.key': gateway.keyPem } });
  // tap writes fixtures readable by all: the key's permissions are warned about (test/faults/files.test.ts).
  t.match(pem.text, /^certs\/gw\.key  warning  .*\[CERT_KEY_PERMISSIONS\]\n$/);
  t.equal(pem.config!.listen.https!.credentials.kind, 'pem');
  t.equal(pem.config!.listen.https!.credentials.certificates[0]!.subject, 'CN=gateway.local');
  t.same(pem.config!.inventory.map((f) => f.alias), ['gw'], 'the listener certificate is inventoried too');

  const p12 = await loadFixture(t, {
    'gateway.yaml': config(', passphrase: "${P12_PASS}"'),
    certs: { 'gw.p12': pkcs12(gateway, 's3cret') },
  }, { env: { P12_PASS: 's3cret' } });
  t.match(p12.text, /^certs\/gw\.p12  warning  .*\[CERT_KEY_PERMISSIONS\]\n$/);
  t.equal(p12.config!.listen.https!.credentials.kind, 'pfx');
  t.equal(p12.config!.listen.https!.credentials.certificates[0]!.subject, 'CN=gateway.local');

  const wrongPass = await loadFixture(t, { 'gateway.yaml': config(', passphrase: nope'), certs: { 'gw.p12': pkcs12(gateway, 's3cret') } });
  t.match(wrongPass.text, /(?:^|\n)gateway\.yaml:2:57  listen\.https\.certificate: the gateway's own certificate "gw": .*gw\.p12 cannot be used: wrong passphrase \(.*\); set listen\.https\.passphrase  \[LISTENER_CERTIFICATE\]\n$/);
  t.notMatch(wrongPass.text, /nope/, 'the passphrase is not echoed');

  const mismatch = await loadFixture(t, { 'gateway.yaml': config(), certs: { 'gw.crt': gateway.certPem, 'gw.key': other.keyPem } });
  t.match(mismatch.text, /the private key .*gw\.key does not match the certificate .*gw\.crt: .*\[LISTENER_CERTIFICATE\]/);

  const missing = await loadFixture(t, { 'gateway.yaml': config(), certs: {} });
  t.match(missing.text, /the gateway's own certificate "gw": no gw\.crt \+ gw\.key, nor gw\.p12 \/ gw\.pfx, in the certificates folder  \[LISTENER_CERTIFICATE\]/);

  const noKey = await loadFixture(t, { 'gateway.yaml': config(), certs: { 'gw.crt': gateway.certPem } });
  t.match(noKey.text, /the private key .*gw\.key: it does not exist/);
});

t.test('a certificates folder elsewhere, relative to the configuration file', async (t) => {
  const loaded = await loadFixture(t, {
    conf: { 'gateway.yaml': oneApi(endpoint('shop'), 'certs: { directory: ../trust }\n') },
    trust: { 'shop.crt': shop.certPem },
  }, { config: 'conf/gateway.yaml' });
  t.equal(loaded.text, '');
  t.equal(loaded.config!.certs.directory, path.join(loaded.dir, 'trust'));
});
