import { createHash } from 'node:crypto';
import t from 'tap';
import { forgetUnusedCertificates, parseCertificateBytes, parseCertificateFile, splitSubjectAltNames } from '../../src/certs/parse.js';
import { createCA, daysFromNow, issue } from '../helpers/pki.js';

const ca = createCA('Parse Test CA');
const leaf = issue({ cn: 'api.example.test', sans: ['api.example.test', '*.api.example.test', '10.0.0.7'], issuer: ca });

function opensslFingerprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

t.test('a PEM leaf: subject, issuer, SANs, fingerprint, validity, CA flag', async (t) => {
  const parsed = parseCertificateBytes(Buffer.from(leaf.certPem));
  t.ok(parsed.ok);
  if (!parsed.ok) return;
  t.equal(parsed.certificates.length, 1);
  const info = parsed.certificates[0]!;
  t.equal(info.subject, 'CN=api.example.test');
  t.equal(info.issuer, 'CN=Parse Test CA');
  t.same(info.subjectAltNames, ['DNS:api.example.test', 'DNS:*.api.example.test', 'IP Address:10.0.0.7']);
  t.equal(info.fingerprint256, opensslFingerprint(leaf.der));
  t.equal(info.isCA, false);
  t.equal(info.selfIssued, false);
  t.equal(info.notAfter, new Date(Math.floor(leaf.cert.validity.notAfter.getTime() / 1000) * 1000).toISOString());
  t.equal(parsed.hasPrivateKey, false);
});

t.test('DER is detected by content, whatever the extension', async (t) => {
  const parsed = parseCertificateBytes(leaf.der);
  t.ok(parsed.ok);
  if (parsed.ok) t.equal(parsed.certificates[0]!.fingerprint256, opensslFingerprint(leaf.der));
});

t.test('a chain and a bundle keep every certificate in order; a CA is flagged', async (t) => {
  const intermediate = issue({ cn: 'Intermediate', isCA: true, issuer: ca });
  const parsed = parseCertificateBytes(Buffer.from(`# a comment line\n${leaf.certPem}\n${intermediate.certPem}${ca.certPem}`));
  t.ok(parsed.ok);
  if (!parsed.ok) return;
  t.same(
    parsed.certificates.map((c) => [c.subject, c.isCA, c.selfIssued]),
    [
      ['CN=api.example.test', false, false],
      ['CN=Intermediate', true, false],
      ['CN=Parse Test CA', true, true],
    ],
  );
});

t.test('a file that also holds a private key parses and is flagged', async (t) => {
  const parsed = parseCertificateBytes(Buffer.from(leaf.certPem + leaf.keyPem));
  t.ok(parsed.ok);
  if (parsed.ok) t.equal(parsed.hasPrivateKey, true);
});

t.test('expired and future certificates still parse (policy is applied later)', async (t) => {
  const expired = issue({ cn: 'old', notBefore: daysFromNow(-30), notAfter: daysFromNow(-1) });
  const parsed = parseCertificateBytes(Buffer.from(expired.certPem));
  t.ok(parsed.ok);
  if (parsed.ok) t.ok(parsed.certificates[0]!.notAfterMs < Date.now());
});

t.test('files that are not certificates, each with its reason', async (t) => {
  const truncated = leaf.certPem.slice(0, leaf.certPem.length - 40);
  const corrupted = leaf.certPem.replace(/\n([A-Za-z0-9+/]{10})/, '\n!!!!!!!!!!');
  const cases: [string, Buffer, RegExp, number | undefined][] = [
    ['empty', Buffer.alloc(0), /^the file is empty \(if it was being written, the next reload reads it again\)$/, undefined],
    ['garbage', Buffer.from([0x00, 0x01, 0x02, 0x03, 0xff, 0xfe, 0x10, 0x20, 0x30]), /^neither PEM \(no "-----BEGIN CERTIFICATE-----" line\) nor a DER certificate \(first bytes: 00010203fffe1020\)$/, undefined],
    ['text', Buffer.from('hello, I am not a certificate\n'), /^neither PEM/, undefined],
    ['truncated', Buffer.from(truncated), /^the CERTIFICATE block at line 1 has no "-----END CERTIFICATE-----" line \(is the file truncated\?\)$/, 1],
    ['corrupted base64', Buffer.from('\n\n' + corrupted), /^the certificate at line 3 does not parse: /, 3],
    ['key only', Buffer.from(leaf.keyPem), /^no "-----BEGIN CERTIFICATE-----" block \(found only RSA PRIVATE KEY\)$/, undefined],
    ['JKS', Buffer.from([0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]), /^this is a Java keystore \(JKS\); import it with `gatehouse cert import FILE`$/, undefined],
    ['trusted certificate', Buffer.from('-----BEGIN TRUSTED CERTIFICATE-----\nAAAA\n-----END TRUSTED CERTIFICATE-----\n'), /OpenSSL "TRUSTED CERTIFICATE"/, 1],
  ];
  for (const [name, bytes, reason, line] of cases) {
    const parsed = parseCertificateBytes(bytes);
    t.notOk(parsed.ok, name);
    if (parsed.ok) continue;
    t.match(parsed.reason, reason, name);
    t.equal(parsed.line, line, `${name}: line`);
  }
});

t.test("splitSubjectAltNames honours Node's quoting of values with commas", async (t) => {
  t.same(splitSubjectAltNames('DNS:a.com, DNS:"b, c.com", IP Address:::1'), ['DNS:a.com', 'DNS:"b, c.com"', 'IP Address:::1']);
  t.same(splitSubjectAltNames(undefined), []);
});

t.test('a parsed file is kept from one read of the folder to the next, however many files it holds; one read without it forgets it', async (t) => {
  const other = issue({ cn: 'other.example.test', issuer: ca });
  const first = parseCertificateFile(Buffer.from(leaf.certPem)).parsed;
  t.equal(parseCertificateFile(Buffer.from(leaf.certPem)).parsed, first, 'the same bytes: the same parse, not a new one');
  forgetUnusedCertificates(); // a read of the folder that held it ends
  t.equal(parseCertificateFile(Buffer.from(leaf.certPem)).parsed, first, 'the next read finds it parsed');
  forgetUnusedCertificates();
  parseCertificateFile(Buffer.from(other.certPem));
  forgetUnusedCertificates(); // a read without it (the file was replaced)
  t.not(parseCertificateFile(Buffer.from(leaf.certPem)).parsed, first, 'forgotten: parsed again');
});
