// gatehouse cert import: keystores made by a real keytool (test/fixtures/keystore, committed with
// the script that made them: no JDK needed here), PKCS#12 files made at test time with
// node-forge, and JKS files built byte by byte for the cases keytool will not make. The command
// runs in this process through the `cert` dispatcher, with captured output; files are real.
import { X509Certificate, createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';
import t from 'tap';
import { certCommand } from '../../src/commands/cert.js';
import { runCli, runInProcess } from '../helpers/cli.js';
import { decodeModifiedUtf8, detectKeystoreFormat, parseKeystore, safeAlias } from '../../src/certs/keystore.js';
import { createCA, issue, pkcs12 } from '../helpers/pki.js';
import type { Issued } from '../helpers/pki.js';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/keystore');
const fixture = (name: string): string => path.join(FIXTURES, name);
const fingerprintOf = (pemOrDer: string | Buffer): string => new X509Certificate(pemOrDer).fingerprint256;
const FINGERPRINTS = {
  'payments-ca': fingerprintOf(readFileSync(fixture('payments-ca.pem'))),
  'orders-backend': fingerprintOf(readFileSync(fixture('orders.pem'))),
  client: fingerprintOf(readFileSync(fixture('client.pem'))),
};

const cert = (args: string[], cwd: string, env: Record<string, string> = {}) => runInProcess(certCommand, args, cwd, env);

/** The certificates of a folder's .crt files by name: SHA-256 fingerprint of each. */
function writtenFingerprints(dir: string): Record<string, string> {
  if (!existsSync(dir)) return {};
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.crt'))
      .map((f) => [f, fingerprintOf(readFileSync(path.join(dir, f)))]),
  );
}

/** A JKS (version 2) holding the given trusted certificates, with the integrity digest of `password`. */
function jks(entries: readonly { alias: string; der: Buffer }[], password: string): Buffer {
  const utf = (s: string): Buffer => {
    const bytes = Buffer.from(s, 'utf8'); // the aliases used here have no NUL nor characters outside the BMP
    const length = Buffer.alloc(2);
    length.writeUInt16BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const body = Buffer.concat([
    u32(0xfeedfeed),
    u32(2),
    u32(entries.length),
    ...entries.flatMap((e) => [u32(2), utf(e.alias), Buffer.alloc(8), utf('X.509'), u32(e.der.length), e.der]),
  ]);
  const passwordUtf16be = Buffer.from(password, 'utf16le').swap16();
  const digest = createHash('sha1').update(passwordUtf16be).update('Mighty Aphrodite').update(body).digest();
  return Buffer.concat([body, digest]);
}

function pkcs12Trust(certs: readonly Issued[], password: string, friendlyName?: string): Buffer {
  const asn1 = forge.pkcs12.toPkcs12Asn1(
    null,
    certs.map((c) => c.cert),
    password,
    { algorithm: 'aes256', ...(friendlyName !== undefined ? { friendlyName } : {}) },
  );
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}

t.test('a JKS made by keytool: every entry written as PEM, fingerprints those of the certificates imported', async (t) => {
  const dir = t.testdir({});
  const result = await cert(['import', fixture('truststore.jks'), '--password', 'changeit', '--out', 'certs'], dir);
  t.equal(result.code, 0, result.stderr);
  t.equal(result.stderr, '', 'no warning: the password was checked');
  const certs = path.join(dir, 'certs');
  t.same(writtenFingerprints(certs), { 'payments-ca.crt': FINGERPRINTS['payments-ca'], 'orders-backend.crt': FINGERPRINTS['orders-backend'], 'client.crt': FINGERPRINTS.client });
  for (const file of readdirSync(certs)) {
    const text = readFileSync(path.join(certs, file), 'utf8');
    t.match(text, /^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/, `${file}: one PEM certificate`);
    t.notMatch(text, /PRIVATE KEY/, `${file}: no key`);
    t.equal(statSync(path.join(certs, file)).mode & 0o777, 0o644, `${file}: mode 0644`);
  }
  t.same(readdirSync(certs).sort(), ['client.crt', 'orders-backend.crt', 'payments-ca.crt'], 'no temporary file left behind');
  // The table: alias, keystore alias, subject, expiry, fingerprint.
  t.match(result.stdout, /^Wrote 3 certificates from \S+truststore\.jks \(JKS\) into certs:$/m);
  t.match(result.stdout, /^  FILE +ENTRY +SUBJECT +NOT AFTER +SHA-256 FINGERPRINT$/m);
  t.match(result.stdout, new RegExp(`^  orders-backend\\.crt  orders backend  CN=orders\\.internal +\\d{4}-\\d\\d-\\d\\d  ${FINGERPRINTS['orders-backend']}$`, 'm'));
  t.match(result.stdout, new RegExp(`^  payments-ca\\.crt +payments-ca +O=Gatehouse fixtures, CN=Payments Root CA  \\d{4}-\\d\\d-\\d\\d  ${FINGERPRINTS['payments-ca']}$`, 'm'));
  t.match(result.stdout, /^client\.crt: the certificate of the private-key entry "client"; its key was not imported, nor the 1 other certificate of its chain$/m);
});

t.test('the same certificates from JCEKS and from a PKCS#12 file named .jks (keytool since Java 9): told by content', async (t) => {
  for (const [file, format] of [
    ['truststore.jceks', 'JCEKS'],
    ['truststore-pkcs12.jks', 'PKCS#12'],
  ] as const) {
    const dir = t.testdir({});
    const result = await cert(['import', fixture(file), '--out', 'certs'], dir, { GATEHOUSE_KEYSTORE_PASSWORD: 'changeit' });
    t.equal(result.code, 0, `${file}: ${result.stderr}`);
    t.equal(result.stderr, '', `${file}: the password from GATEHOUSE_KEYSTORE_PASSWORD was checked`);
    t.match(result.stdout, `(${format}) into certs:`, `${file}: read as ${format}`);
    t.same(writtenFingerprints(path.join(dir, 'certs')), { 'payments-ca.crt': FINGERPRINTS['payments-ca'], 'orders-backend.crt': FINGERPRINTS['orders-backend'] }, file);
  }
});

t.test('a wrong password: exit 1, a message that says so, nothing written', async (t) => {
  for (const file of ['truststore.jks', 'truststore.jceks', 'truststore-pkcs12.jks']) {
    const dir = t.testdir({});
    const result = await cert(['import', fixture(file), '--password', 'changeme', '--out', 'certs'], dir);
    t.equal(result.code, 1, file);
    t.match(result.stderr, new RegExp(`^gatehouse cert import: \\S+${file.replace('.', '\\.')}: wrong password: the (JKS|JCEKS|PKCS#12) (keystore's integrity check|file's integrity check \\(MAC\\)) fails with it.*; give the right one with --password or GATEHOUSE_KEYSTORE_PASSWORD\\n$`), file);
    t.notOk(existsSync(path.join(dir, 'certs')), `${file}: no folder made`);
  }
  // --password wins over the environment.
  const dir = t.testdir({});
  const both = await cert(['import', fixture('truststore.jks'), '--password', 'nope', '--out', 'certs'], dir, { GATEHOUSE_KEYSTORE_PASSWORD: 'changeit' });
  t.equal(both.code, 1, '--password is used before the variable');
});

t.test('no password: a JKS is read without its integrity check, and the command says so; PKCS#12 asks for one', async (t) => {
  const dir = t.testdir({});
  const jksResult = await cert(['import', fixture('truststore.jks'), '--out', 'certs'], dir);
  t.equal(jksResult.code, 0);
  t.match(jksResult.stderr, /^gatehouse cert import: warning: \S+truststore\.jks was read without checking its integrity \(no password given\); give it with --password or GATEHOUSE_KEYSTORE_PASSWORD to check it$/m);
  t.equal(Object.keys(writtenFingerprints(path.join(dir, 'certs'))).length, 3);
  const p12Result = await cert(['import', fixture('truststore-pkcs12.jks'), '--out', 'other'], dir);
  t.equal(p12Result.code, 1);
  t.match(p12Result.stderr, /truststore-pkcs12\.jks: the PKCS#12 file needs a password; give it with --password or GATEHOUSE_KEYSTORE_PASSWORD$/m);
});

t.test('existing files: listed, nothing written, exit 1; --force replaces <alias>.crt; another extension blocks even with --force', async (t) => {
  const other = issue({ cn: 'someone else' });
  const dir = t.testdir({ certs: { 'payments-ca.crt': other.certPem, 'unrelated.crt': other.certPem } });
  const certs = path.join(dir, 'certs');
  const refused = await cert(['import', fixture('truststore.jks'), '--password', 'changeit', '--out', 'certs'], dir);
  t.equal(refused.code, 1);
  t.equal(refused.stderr, 'gatehouse cert import: nothing written: 1 file is in the way:\n  certs/payments-ca.crt exists (--force replaces it)\n');
  t.same(readdirSync(certs).sort(), ['payments-ca.crt', 'unrelated.crt'], 'no other entry written either');
  t.equal(readFileSync(path.join(certs, 'payments-ca.crt'), 'utf8'), other.certPem, 'the existing file is untouched');

  const forced = await cert(['import', fixture('truststore.jks'), '--password', 'changeit', '--out', 'certs', '--force'], dir);
  t.equal(forced.code, 0, forced.stderr);
  t.equal(writtenFingerprints(certs)['payments-ca.crt'], FINGERPRINTS['payments-ca'], 'replaced with --force');
  t.equal(readFileSync(path.join(certs, 'unrelated.crt'), 'utf8'), other.certPem, 'files of other aliases are left alone');

  writeFileSync(path.join(certs, 'Orders-Backend.PEM'), other.certPem);
  const ambiguous = await cert(['import', fixture('truststore.jks'), '--password', 'changeit', '--out', 'certs', '--force'], dir);
  t.equal(ambiguous.code, 1);
  t.match(ambiguous.stderr, /^  certs\/Orders-Backend\.PEM carries alias "orders-backend" already \(remove it: next to orders-backend\.crt the alias would be ambiguous\)$/m);
});

t.test('the folder: certs.directory of the configuration, relative to it; ./certs without one; --dry-run and --alias', async (t) => {
  const dir = t.testdir({ deploy: { 'gateway.yaml': 'version: 1\ncerts: { directory: "${TRUST_DIR:-./trust}" }\napis: []\n' }, elsewhere: {} });
  const fromConfig = await cert(['import', fixture('truststore.jks'), '--password', 'changeit', '-c', '../deploy/gateway.yaml'], path.join(dir, 'elsewhere'));
  t.equal(fromConfig.code, 0, fromConfig.stderr);
  t.equal(Object.keys(writtenFingerprints(path.join(dir, 'deploy', 'trust'))).length, 3, 'written next to the configuration, ${VAR:-default} expanded');

  const fromEnv = await cert(['import', fixture('truststore.jks'), '--password', 'changeit', '-c', 'deploy/gateway.yaml', '--alias', 'orders backend'], dir, { TRUST_DIR: '../from-env' });
  t.equal(fromEnv.code, 0, fromEnv.stderr);
  t.same(Object.keys(writtenFingerprints(path.join(dir, 'from-env'))), ['orders-backend.crt'], 'the variable is read from the environment given');

  const noConfig = t.testdir({});
  const defaulted = await cert(['import', fixture('truststore.jks'), '--password', 'changeit', '--alias', 'payments-ca', '--alias', 'orders-backend'], noConfig);
  t.equal(defaulted.code, 0, defaulted.stderr);
  t.match(defaulted.stdout, /^Wrote 2 certificates from \S+ \(JKS\) into certs \(there is no gateway\.yaml here: the default folder\):$/m);
  t.same(Object.keys(writtenFingerprints(path.join(noConfig, 'certs'))).sort(), ['orders-backend.crt', 'payments-ca.crt'], '--alias by keystore alias or by alias written');

  const missingConfig = await cert(['import', fixture('truststore.jks'), '--password', 'changeit', '-c', 'nope.yaml'], noConfig);
  t.equal(missingConfig.code, 1, 'a configuration named with -c must exist');
  t.match(missingConfig.stderr, /cannot read nope\.yaml, whose certs\.directory receives the files: it does not exist; pass --out DIR to write elsewhere/);

  const unknownAlias = await cert(['import', fixture('truststore.jks'), '--password', 'changeit', '--alias', 'pizza', '--out', 'x'], noConfig);
  t.equal(unknownAlias.code, 1);
  t.match(unknownAlias.stderr, /has no entry "pizza" \(it has: client, orders backend, payments-ca\)/);

  const dryDir = t.testdir({});
  const dry = await cert(['import', fixture('truststore.jks'), '--password', 'changeit', '--dry-run'], dryDir);
  t.equal(dry.code, 0);
  t.match(dry.stdout, /^Would write 3 certificates /m);
  t.same(readdirSync(dryDir), [], '--dry-run writes nothing');
});

t.test('PKCS#12 made with node-forge: aliases from friendlyName, else the CN, made safe and unique', async (t) => {
  const ca = createCA('Billing Root CA', { keyIndex: 0 });
  const api = issue({ cn: 'API.Example.com', sans: ['api.example.com'], keyIndex: 1 });
  const twin = issue({ cn: 'API.Example.com', keyIndex: 2 });
  const dir = t.testdir({ 'trust.p12': pkcs12Trust([ca, api, twin], 's3cret', '../Billing Backend/'), 'bare.pfx': pkcs12Trust([api], 's3cret') });

  const named = await cert(['import', 'trust.p12', '--password', 's3cret', '--out', 'certs'], dir);
  t.equal(named.code, 0, named.stderr);
  t.same(writtenFingerprints(path.join(dir, 'certs')), {
    'billing-backend.crt': fingerprintOf(ca.der),
    'api.example.com.crt': fingerprintOf(api.der),
    'api.example.com-2.crt': fingerprintOf(twin.der),
  });
  t.match(named.stdout, /^  billing-backend\.crt +\.\.\/Billing Backend\/ +CN=Billing Root CA /m, 'the friendlyName, shown as stored, made safe');
  t.match(named.stdout, /^  api\.example\.com\.crt +- +CN=API\.Example\.com /m, 'no friendlyName: the CN, lower-case');

  const bare = await cert(['import', 'bare.pfx', '--password', 's3cret', '--out', 'bare'], dir);
  t.equal(bare.code, 0, bare.stderr);
  t.same(Object.keys(writtenFingerprints(path.join(dir, 'bare'))), ['api.example.com.crt']);

  const wrong = await cert(['import', 'trust.p12', '--password', 'secret', '--out', 'x'], dir);
  t.equal(wrong.code, 1);
  t.equal(wrong.stderr, "gatehouse cert import: trust.p12: wrong password: the PKCS#12 file's integrity check (MAC) fails with it; give the right one with --password or GATEHOUSE_KEYSTORE_PASSWORD\n");
});

t.test('PKCS#12 with a private key: its certificate and chain are written, the key never', async (t) => {
  const ca = createCA('Client Root CA', { keyIndex: 0 });
  const leaf = issue({ cn: 'gateway-client', issuer: ca, keyIndex: 1 });
  const dir = t.testdir({ 'client.p12': pkcs12(leaf, 'pw', [ca]) });
  const result = await cert(['import', 'client.p12', '--password', 'pw', '--out', 'certs'], dir);
  t.equal(result.code, 0, result.stderr);
  t.same(writtenFingerprints(path.join(dir, 'certs')), { 'gateway-client.crt': fingerprintOf(leaf.der), 'client-root-ca.crt': fingerprintOf(ca.der) });
  t.match(result.stdout, /^gateway-client\.crt: the certificate of the private-key entry "gateway-client"; its key was not imported$/m);
  for (const file of readdirSync(path.join(dir, 'certs'))) t.notMatch(readFileSync(path.join(dir, 'certs', file), 'utf8'), /PRIVATE KEY/, file);
});

t.test('hostile and odd JKS aliases stay inside the folder, as valid certificate aliases', async (t) => {
  const a = issue({ cn: 'a', keyIndex: 0 });
  const b = issue({ cn: 'b', keyIndex: 1 });
  const c = issue({ cn: 'Ünïcode Server', keyIndex: 2 });
  const store = jks(
    [
      { alias: '../../escape', der: a.der },
      { alias: '/etc/passwd', der: b.der },
      { alias: '...', der: c.der },
    ],
    'pw',
  );
  const dir = t.testdir({ 'odd.jks': store, certs: {} });
  const result = await cert(['import', 'odd.jks', '--password', 'pw', '--out', 'certs'], dir);
  t.equal(result.code, 0, result.stderr);
  t.same(writtenFingerprints(path.join(dir, 'certs')), { 'escape.crt': fingerprintOf(a.der), 'etc-passwd.crt': fingerprintOf(b.der), 'unicode-server.crt': fingerprintOf(c.der) });
  t.same(readdirSync(dir).sort(), ['certs', 'odd.jks'], 'nothing written outside the folder');
});

t.test('not a keystore, an empty keystore, a damaged one: exit 1 naming the file and what to do', async (t) => {
  const leaf = issue({ cn: 'x' });
  const full = jks([{ alias: 'x', der: leaf.der }], 'pw');
  const dir = t.testdir({
    'leaf.pem': leaf.certPem,
    'leaf.cer': leaf.der,
    'random.bin': Buffer.from('just some bytes'),
    'empty.jks': jks([], 'pw'),
    'cut.jks': full.subarray(0, 60),
    'folder.jks': {},
  });
  const cases: [string, string][] = [
    ['leaf.pem', 'leaf.pem: this is a PEM certificate file, not a keystore: copy it into the certificates folder as <alias>.crt'],
    ['leaf.cer', 'leaf.cer: this is a DER certificate file, not a keystore: copy it into the certificates folder as <alias>.der (or <alias>.crt)'],
    ['random.bin', 'random.bin: not a keystore: neither JKS, JCEKS nor PKCS#12 (first bytes: 6a75737420736f6d)'],
    ['empty.jks', 'empty.jks: the JKS keystore holds no certificate; nothing to import'],
    ['cut.jks', 'cut.jks: the JKS keystore is damaged: it ends in the middle of an entry (truncated?)'],
    ['folder.jks', 'cannot read folder.jks: it is a folder, not a file'],
    ['absent.jks', 'cannot read absent.jks: it does not exist'],
  ];
  for (const [file, message] of cases) {
    const result = await cert(['import', file, '--password', 'pw', '--out', 'certs'], dir);
    t.equal(result.code, 1, file);
    t.equal(result.stderr, `gatehouse cert import: ${message}\n`, file);
  }
  t.notOk(existsSync(path.join(dir, 'certs')), 'nothing written');
});

t.test('usage errors exit 2 with the subcommand usage', async (t) => {
  const dir = t.testdir({});
  for (const args of [['import'], ['import', 'a.jks', 'b.jks'], ['import', 'a.jks', '--out', 'x', '-c', 'g.yaml'], ['import', 'a.jks', '--pasword', 'x']]) {
    const result = await cert(args, dir);
    t.equal(result.code, 2, args.join(' '));
    t.match(result.stderr, /^gatehouse cert import: .+\n\nUsage: gatehouse cert import <keystore>/, args.join(' '));
  }
  const help = await cert(['import', '--help'], dir);
  t.equal(help.code, 0);
  t.match(help.stdout, /GATEHOUSE_KEYSTORE_PASSWORD/, 'the usage names the variable');
});

t.test('as installed: the password from the environment, the folder from gateway.yaml', async (t) => {
  const dir = t.testdir({ 'gateway.yaml': 'version: 1\ncerts: { directory: ./trust }\napis: []\n' });
  const result = await runCli(['cert', 'import', fixture('truststore.jks')], { cwd: dir, env: { GATEHOUSE_KEYSTORE_PASSWORD: 'changeit' } });
  t.equal(result.code, 0, result.stderr);
  t.equal(result.stderr, '');
  t.match(result.stdout, /^Wrote 3 certificates from \S+truststore\.jks \(JKS\) into trust:$/m);
  t.same(Object.keys(writtenFingerprints(path.join(dir, 'trust'))).sort(), ['client.crt', 'orders-backend.crt', 'payments-ca.crt']);
});

t.test('keystore parsing, unit by unit', async (t) => {
  t.equal(detectKeystoreFormat(readFileSync(fixture('truststore.jks'))), 'JKS');
  t.equal(detectKeystoreFormat(readFileSync(fixture('truststore.jceks'))), 'JCEKS');
  t.equal(detectKeystoreFormat(readFileSync(fixture('truststore-pkcs12.jks'))), 'PKCS#12');
  t.equal(detectKeystoreFormat(Buffer.alloc(0)), undefined);

  // Java's modified UTF-8: NUL as C0 80, a character outside the BMP as two 3-byte surrogates.
  t.equal(decodeModifiedUtf8(Buffer.from([0x61, 0xc0, 0x80, 0x62])), 'a\u0000b');
  t.equal(decodeModifiedUtf8(Buffer.from([0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80])), '\u{1F600}');
  t.equal(decodeModifiedUtf8(Buffer.from('Zürich', 'utf8')), 'Zürich');

  // The digest is checked with the password as UTF-16BE: a non-ASCII password opens the store it made.
  const leaf = issue({ cn: 'x' });
  const store = jks([{ alias: 'x', der: leaf.der }], 'pässwörd');
  const opened = parseKeystore(store, 'pässwörd');
  t.ok(opened.ok && opened.verified && opened.entries.length === 1, 'the right password opens it');
  const refused = parseKeystore(store, 'passwort');
  t.ok(!refused.ok && refused.problem === 'password', 'a wrong one is a password problem');

  const aliases: [string, string | undefined][] = [
    ['Orders Backend', 'orders-backend'],
    ['payments-ca', 'payments-ca'],
    ['api.example.com', 'api.example.com'],
    ['../../etc/passwd', 'etc-passwd'],
    ['.hidden', 'hidden'],
    ['..', undefined],
    ['a/b\\c', 'a-b-c'],
    ['Zürich CA', 'zurich-ca'],
    ['*.example.com', 'example.com'],
    ['trailing--', 'trailing'],
    ['日本', undefined],
    ['x'.repeat(200), 'x'.repeat(128)],
  ];
  for (const [name, expected] of aliases) t.equal(safeAlias(name), expected, JSON.stringify(name));
});
