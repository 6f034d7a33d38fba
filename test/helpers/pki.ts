// Certificates made at test time with node-forge: CAs, intermediates, leaves with any SANs and
// dates, self-signed certificates. RSA keys come from Node's native generator (forge's pure-JS
// generator takes seconds) and are reused within a test process, which tests never depend on.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

const DAY_MS = 86_400_000;

export interface Issued {
  readonly cert: forge.pki.Certificate;
  readonly key: forge.pki.rsa.PrivateKey;
  readonly certPem: string;
  readonly keyPem: string;
  /** DER bytes of the certificate. */
  readonly der: Buffer;
}

export interface CertificateOptions {
  readonly cn?: string;
  /** DNS names and IP addresses. */
  readonly sans?: readonly string[];
  /** Signer; absent: self-signed. */
  readonly issuer?: Issued;
  readonly isCA?: boolean;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Which of the cached keys to use (distinct indices give distinct keys). */
  readonly keyIndex?: number;
  /** Also good for TLS client authentication (extKeyUsage clientAuth): a client certificate. */
  readonly clientAuth?: boolean;
  /** Omit the basicConstraints extension (as many hand-made self-signed certificates do). */
  readonly noBasicConstraints?: boolean;
}

const keys = new Map<number, forge.pki.rsa.KeyPair>();

export function testKey(index = 0): forge.pki.rsa.KeyPair {
  let pair = keys.get(index);
  if (!pair) {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const key = forge.pki.privateKeyFromPem(privateKey);
    pair = { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e) };
    keys.set(index, pair);
  }
  return pair;
}

let nextKeyIndex = 100;

export function issue(options: CertificateOptions = {}): Issued {
  const pair = testKey(options.keyIndex ?? nextKeyIndex++ % 4);
  const cert = forge.pki.createCertificate();
  cert.publicKey = pair.publicKey;
  cert.serialNumber = '01' + randomBytes(8).toString('hex');
  cert.validity.notBefore = options.notBefore ?? new Date(Date.now() - DAY_MS);
  cert.validity.notAfter = options.notAfter ?? new Date(Date.now() + 365 * DAY_MS);
  const subject = [{ name: 'commonName', value: options.cn ?? 'test' }];
  cert.setSubject(subject);
  cert.setIssuer(options.issuer ? options.issuer.cert.subject.attributes : subject);
  const extensions: object[] = [];
  if (!options.noBasicConstraints) extensions.push({ name: 'basicConstraints', cA: options.isCA ?? false, critical: true });
  if (options.isCA) extensions.push({ name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true });
  else extensions.push({ name: 'keyUsage', digitalSignature: true, keyEncipherment: true }, { name: 'extKeyUsage', serverAuth: true, ...(options.clientAuth ? { clientAuth: true } : {}) });
  if (options.sans?.length) {
    extensions.push({
      name: 'subjectAltName',
      altNames: options.sans.map((san) => (isIP(san) ? { type: 7, ip: san } : { type: 2, value: san })),
    });
  }
  extensions.push({ name: 'subjectKeyIdentifier' });
  cert.setExtensions(extensions);
  cert.sign(options.issuer?.key ?? pair.privateKey, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  return {
    cert,
    key: pair.privateKey,
    certPem,
    keyPem: forge.pki.privateKeyToPem(pair.privateKey),
    der: Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary'),
  };
}

export function createCA(cn = 'Test Root CA', options: Omit<CertificateOptions, 'cn' | 'isCA'> = {}): Issued {
  return issue({ ...options, cn, isCA: true });
}

export function daysFromNow(days: number): Date {
  return new Date(Date.now() + days * DAY_MS);
}

/** A PKCS#12 file holding a certificate (chain) and its key. */
export function pkcs12(leaf: Issued, password: string, chain: readonly Issued[] = []): Buffer {
  const asn1 = forge.pkcs12.toPkcs12Asn1(leaf.key, [leaf.cert, ...chain.map((c) => c.cert)], password, { algorithm: '3des' });
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}
