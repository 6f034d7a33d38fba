// The HTTPS listener's own certificate: <alias>.p12 / <alias>.pfx, or <alias>.crt (or .pem) with
// <alias>.key, in the certificates folder. Read (I/O) and checked (pure) separately.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import forge from 'node-forge';
import type { CertificateInfo, ListenerCredentials } from '../config/types.js';
import { describeCertificate, parseCertificateBytes } from './parse.js';
import { MAX_CERTIFICATE_FILE_BYTES, describeFsError, fileExists, readContainedFile } from './read.js';
import type { FileRead } from './read.js';

export type ListenerFiles =
  | { readonly kind: 'pfx'; readonly file: FileRead }
  | { readonly kind: 'pem'; readonly cert: FileRead; readonly key: FileRead }
  | { readonly kind: 'missing'; readonly reason: string };

export async function readListenerFiles(directory: string, alias: string): Promise<ListenerFiles> {
  let realDirectory: string;
  try {
    realDirectory = await realpath(directory);
  } catch (e) {
    return { kind: 'missing', reason: `the certificates folder: ${describeFsError(e)}` };
  }
  const candidate = (extension: string): string => path.join(directory, alias + extension);
  for (const extension of ['.p12', '.pfx']) {
    if (await fileExists(candidate(extension))) {
      return { kind: 'pfx', file: readContainedFile(realDirectory, candidate(extension), MAX_CERTIFICATE_FILE_BYTES) };
    }
  }
  for (const extension of ['.crt', '.pem']) {
    if (await fileExists(candidate(extension))) {
      return {
        kind: 'pem',
        cert: readContainedFile(realDirectory, candidate(extension), MAX_CERTIFICATE_FILE_BYTES),
        key: readContainedFile(realDirectory, candidate('.key'), MAX_CERTIFICATE_FILE_BYTES),
      };
    }
  }
  return {
    kind: 'missing',
    reason: `no ${alias}.crt + ${alias}.key, nor ${alias}.p12 / ${alias}.pfx, in the certificates folder`,
  };
}

export type ListenerCheck =
  | { readonly ok: true; readonly credentials: ListenerCredentials }
  | { readonly ok: false; readonly reason: string };

/** `show` renders a path for a message. */
export function checkListenerFiles(files: ListenerFiles, passphrase: string | undefined, show: (file: string) => string = (f) => f): ListenerCheck {
  if (files.kind === 'missing') return { ok: false, reason: files.reason };
  if (files.kind === 'pfx') {
    const { file } = files;
    if (!file.bytes) return { ok: false, reason: `${show(file.path)}: ${file.error}` };
    try {
      createSecureContext({ pfx: file.bytes, passphrase });
    } catch (e) {
      return { ok: false, reason: `${show(file.path)} cannot be used: ${pkcs12Reason(e)}` };
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
    const hint = /passphrase|decrypt|bad decrypt/i.test(message) ? ' (a wrong or missing listen.https.passphrase?)' : '';
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

function pkcs12Reason(error: unknown): string {
  const message = (error as Error).message;
  return /mac verify|wrong password|invalid password/i.test(message)
    ? `wrong passphrase (${message}); set listen.https.passphrase`
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
