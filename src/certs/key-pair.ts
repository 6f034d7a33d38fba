// A certificate with its private key, the gateway's own: the HTTPS listener's (listen.https), or
// a client certificate presented to backends (clientCertificate, SPEC §9). <alias>.p12 / <alias>.pfx,
// or <alias>.crt (or .pem) with <alias>.key, in the certificates folder. Read (I/O) and checked
// (pure) separately.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import forge from 'node-forge';
import type { CertificateInfo, KeyPairCredentials } from './types.js';
import { describeCertificate, parseCertificateBytes } from './parse.js';
import { MAX_CERTIFICATE_FILE_BYTES, describeFsError, fileExists, readContainedFile } from './read.js';
import type { FileRead } from './read.js';

/**
 * Permission bits (`mode & 0o777`) and owner of the file that holds the private key (the .key, or
 * the .p12 / .pfx), after following symlinks: on Kubernetes the mode of ..data/<alias>.key, which
 * the Secret volume's defaultMode sets. Absent on Windows, or when the file could not be read.
 */
type KeyMode = { readonly keyMode?: number; readonly keyOwner?: number };

export type KeyPairFiles =
  | ({ readonly kind: 'pfx'; readonly file: FileRead } & KeyMode)
  | ({ readonly kind: 'pem'; readonly cert: FileRead; readonly key: FileRead } & KeyMode)
  | { readonly kind: 'missing'; readonly reason: string };

export async function readKeyPairFiles(directory: string, alias: string): Promise<KeyPairFiles> {
  let realDirectory: string;
  try {
    realDirectory = await realpath(directory);
  } catch (e) {
    return { kind: 'missing', reason: `the certificates folder: ${describeFsError(e)}` };
  }
  const candidate = (extension: string): string => path.join(directory, alias + extension);
  for (const extension of ['.p12', '.pfx']) {
    if (await fileExists(candidate(extension))) {
      const file = readContainedFile(realDirectory, candidate(extension), MAX_CERTIFICATE_FILE_BYTES);
      return { kind: 'pfx', file, ...(await readKeyMode(file)) };
    }
  }
  for (const extension of ['.crt', '.pem']) {
    if (await fileExists(candidate(extension))) {
      const key = readContainedFile(realDirectory, candidate('.key'), MAX_CERTIFICATE_FILE_BYTES);
      return {
        kind: 'pem',
        cert: readContainedFile(realDirectory, candidate(extension), MAX_CERTIFICATE_FILE_BYTES),
        key,
        ...(await readKeyMode(key)),
      };
    }
  }
  return {
    kind: 'missing',
    reason: `no ${alias}.crt + ${alias}.key, nor ${alias}.p12 / ${alias}.pfx, in the certificates folder`,
  };
}

/** The mode of a key file that was read; fs.stat follows symlinks to the file itself. Windows has no such modes. */
async function readKeyMode(file: FileRead): Promise<KeyMode> {
  if (process.platform === 'win32' || !file.bytes) return {};
  try {
    const { mode, uid } = await stat(file.path);
    return { keyMode: mode & 0o777, keyOwner: uid };
  } catch {
    return {};
  }
}

/** Whose key it is, for messages: what holds it, and the key that gives its passphrase. */
export interface KeyOwner {
  /** "the HTTPS listener's", `client certificate "gw-payments"'s` */
  readonly whose: string;
  /** listen.https.passphrase, tls.clientCertificatePassphrase */
  readonly passphraseKey: string;
}

export const LISTENER_KEY: KeyOwner = { whose: "the HTTPS listener's", passphraseKey: 'listen.https.passphrase' };

/**
 * When group or others may read the file holding a private key (CERT_KEY_PERMISSIONS):
 * that file, and a message saying who can read it and what to do. `show` renders a path.
 *
 * PostgreSQL's rule for its ssl_key_file: a key the gateway's user owns must be 0600 or less; a
 * key owned by root may also be group-readable (0640), since root gave that group the key on
 * purpose. That is how Kubernetes mounts a Secret for a non-root pod: files owned by root, group
 * fsGroup, mode defaultMode (0440), the group being the only way the pod's user can read them.
 */
export function checkKeyPermissions(
  files: KeyPairFiles,
  show: (file: string) => string = (f) => f,
  owner: KeyOwner = LISTENER_KEY,
): { readonly path: string; readonly message: string } | undefined {
  if (files.kind === 'missing' || files.keyMode === undefined) return undefined;
  const exposed = files.keyOwner === 0 ? files.keyMode & 0o004 : files.keyMode & 0o044;
  if (exposed === 0) return undefined;
  const file = files.kind === 'pfx' ? files.file.path : files.key.path;
  const who = [(exposed & 0o040) !== 0 ? 'group' : '', (exposed & 0o004) !== 0 ? 'others' : ''].filter(Boolean).join(' and ');
  const mode = files.keyMode.toString(8).padStart(4, '0');
  return {
    path: file,
    message: `holds ${owner.whose} private key and is readable by ${who} (mode ${mode}): chmod 600 ${show(file)} (in Kubernetes, set defaultMode: 0440 on the Secret volume with the pod's fsGroup, or 0400 when the pod runs as root)`,
  };
}

export type KeyPairCheck =
  | { readonly ok: true; readonly credentials: KeyPairCredentials }
  | { readonly ok: false; readonly reason: string };

/** `show` renders a path for a message. */
export function checkKeyPairFiles(files: KeyPairFiles, passphrase: string | undefined, show: (file: string) => string = (f) => f, owner: KeyOwner = LISTENER_KEY): KeyPairCheck {
  if (files.kind === 'missing') return { ok: false, reason: files.reason };
  if (files.kind === 'pfx') {
    const { file } = files;
    if (!file.bytes) return { ok: false, reason: `${show(file.path)}: ${file.error}` };
    try {
      createSecureContext({ pfx: file.bytes, passphrase });
    } catch (e) {
      return { ok: false, reason: `${show(file.path)} cannot be used: ${pkcs12Reason(e, owner)}` };
    }
    let certificates: CertificateInfo[];
    try {
      certificates = readPkcs12Certificates(file.bytes, passphrase ?? '').map((der) => describeCertificate(new X509Certificate(der)));
    } catch (e) {
      return { ok: false, reason: `${show(file.path)}: its certificates do not parse: ${(e as Error).message}` };
    }
    return { ok: true, credentials: { kind: 'pfx', path: file.path, pfx: file.bytes, certificates } };
  }
  const { cert, key } = files;
  if (!cert.bytes) return { ok: false, reason: `${show(cert.path)}: ${cert.error}` };
  if (!key.bytes) return { ok: false, reason: `the private key ${show(key.path)}: ${key.error}` };
  const parsed = parseCertificateBytes(cert.bytes);
  if (!parsed.ok) return { ok: false, reason: `${show(cert.path)}: ${parsed.reason}` };
  try {
    createPrivateKey({ key: key.bytes, passphrase });
  } catch (e) {
    const message = (e as Error).message;
    const hint = /passphrase|decrypt|bad decrypt/i.test(message) ? ` (a wrong or missing ${owner.passphraseKey}?)` : '';
    return { ok: false, reason: `the private key ${show(key.path)} does not parse: ${message}${hint}` };
  }
  try {
    createSecureContext({ cert: cert.bytes, key: key.bytes, passphrase });
  } catch (e) {
    return { ok: false, reason: `the private key ${show(key.path)} does not match the certificate ${show(cert.path)}: ${(e as Error).message}` };
  }
  return {
    ok: true,
    credentials: { kind: 'pem', certPath: cert.path, keyPath: key.path, cert: cert.bytes, key: key.bytes, certificates: parsed.certificates },
  };
}

/** The bytes a pair's files hold: what a revision hashes, and what tells one pair from its renewal. */
export function keyPairBytes(credentials: KeyPairCredentials): Buffer[] {
  return credentials.kind === 'pfx' ? [credentials.pfx] : [credentials.cert, credentials.key];
}

function pkcs12Reason(error: unknown, owner: KeyOwner): string {
  const message = (error as Error).message;
  return /mac verify|wrong password|invalid password/i.test(message)
    ? `wrong passphrase (${message}); set ${owner.passphraseKey}`
    : message;
}

/** PKCS#12 certBag (RFC 7292), forge.pki.oids.certBag. */
const CERT_BAG_OID = '1.2.840.113549.1.12.10.1.3';

/** DER of every certificate in a PKCS#12 file. node-forge keeps the raw ASN.1 of certificates it cannot decode (EC keys). */
export function readPkcs12Certificates(bytes: Buffer, password: string): Buffer[] {
  const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(bytes.toString('binary')), false, password);
  const bags = p12.getBags({ bagType: CERT_BAG_OID })[CERT_BAG_OID] ?? [];
  return bags.map((bag) => {
    const asn1 = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : bag.asn1;
    return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
  });
}
