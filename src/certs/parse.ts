// Parse certificate files: PEM (one or many blocks: a chain or a bundle) or DER, detected by
// content rather than by extension. Node's crypto.X509Certificate does the parsing (it reads
// every key type; node-forge does not read EC keys).
import { X509Certificate, createHash } from 'node:crypto';
import type { CertificateInfo } from './types.js';

export type ParsedCertificateFile =
  | { readonly ok: true; readonly certificates: CertificateInfo[]; readonly hasPrivateKey: boolean }
  | { readonly ok: false; readonly reason: string; readonly line?: number };

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----/g;
const JKS_MAGIC = 0xfeedfeed;

/**
 * Parsed files by the SHA-256 of their bytes. Content-addressed, so always right: a reload of a
 * thousand unchanged certificates hashes them instead of parsing them again. It holds the files
 * of the last read of the folder and of the read under way (see forgetUnusedCertificates),
 * whatever their number: a fixed bound smaller than the folder would parse every file again on
 * every reload (it did, at 5,000 files and a bound of 4,096: a second per reload).
 */
let usedNow = new Map<string, ParsedCertificateFile>();
let usedBefore = new Map<string, ParsedCertificateFile>();

/** By the bytes themselves: a file the folder's read found unchanged comes back as the same Buffer (certs/read.ts), not even hashed again. */
const byBytes = new WeakMap<Buffer, { readonly sha256: string; readonly parsed: ParsedCertificateFile }>();

export function parseCertificateFile(bytes: Buffer): { readonly sha256: string; readonly parsed: ParsedCertificateFile } {
  let result = byBytes.get(bytes);
  if (!result) {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    result = { sha256, parsed: usedNow.get(sha256) ?? usedBefore.get(sha256) ?? parseCertificateBytes(bytes) };
    byBytes.set(bytes, result);
  }
  usedNow.set(result.sha256, result.parsed);
  return result;
}

/** A read of the whole folder is over: the files the read before it had and it has not are forgotten. */
export function forgetUnusedCertificates(): void {
  usedBefore = usedNow;
  usedNow = new Map();
}

/** The X509Certificate behind a description, for name checks, without parsing it twice. */
const x509ByInfo = new WeakMap<CertificateInfo, X509Certificate>();

export function x509Of(info: CertificateInfo): X509Certificate {
  let x509 = x509ByInfo.get(info);
  if (!x509) {
    x509 = new X509Certificate(info.pem);
    x509ByInfo.set(info, x509);
  }
  return x509;
}

export function parseCertificateBytes(bytes: Buffer): ParsedCertificateFile {
  if (bytes.length === 0) {
    return { ok: false, reason: 'the file is empty (if it was being written, the next reload reads it again)' };
  }
  const text = bytes.toString('latin1');
  return text.includes('-----BEGIN ') ? parsePem(text) : parseDer(bytes);
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

function parsePem(text: string): ParsedCertificateFile {
  const certificates: CertificateInfo[] = [];
  const otherBlocks: string[] = [];
  let hasPrivateKey = false;
  for (const match of text.matchAll(PEM_BLOCK)) {
    const label = match[1]!;
    const start = match.index;
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, start);
    const line = lineOf(text, start);
    if (end === -1) {
      return { ok: false, line, reason: `the ${label} block at line ${line} has no "${endMarker}" line (is the file truncated?)` };
    }
    if (label === 'CERTIFICATE') {
      try {
        certificates.push(describeCertificate(new X509Certificate(text.slice(start, end + endMarker.length))));
      } catch (e) {
        return { ok: false, line, reason: `the certificate at line ${line} does not parse: ${openSslReason(e)}` };
      }
    } else if (label === 'TRUSTED CERTIFICATE') {
      return {
        ok: false,
        line,
        reason: `line ${line} holds an OpenSSL "TRUSTED CERTIFICATE"; convert it with \`openssl x509 -in FILE -out FILE.crt\``,
      };
    } else {
      if (label.endsWith('PRIVATE KEY')) hasPrivateKey = true;
      otherBlocks.push(label);
    }
  }
  if (certificates.length === 0) {
    const found = otherBlocks.length > 0 ? `found only ${[...new Set(otherBlocks)].join(', ')}` : 'found no complete PEM block';
    return { ok: false, reason: `no "-----BEGIN CERTIFICATE-----" block (${found})` };
  }
  return { ok: true, certificates, hasPrivateKey };
}

function parseDer(bytes: Buffer): ParsedCertificateFile {
  if (bytes.length >= 4 && bytes.readUInt32BE(0) === JKS_MAGIC) {
    return { ok: false, reason: 'this is a Java keystore (JKS); import it with `gatehouse cert import FILE`' };
  }
  try {
    return { ok: true, certificates: [describeCertificate(new X509Certificate(bytes))], hasPrivateKey: false };
  } catch {
    return {
      ok: false,
      reason: `neither PEM (no "-----BEGIN CERTIFICATE-----" line) nor a DER certificate (first bytes: ${bytes.subarray(0, 8).toString('hex')})`,
    };
  }
}

function openSslReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^error:[0-9A-F]+:[^:]*:[^:]*:/i, '').trim() || message;
}

/** "CN=a\nO=b" (Node's form) → "CN=a, O=b" (one line, as openssl -nameopt oneline roughly prints). */
function oneLineName(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}

/**
 * Node's subjectAltName is "DNS:a.com, IP Address:10.0.0.1"; values holding a comma or quote
 * are JSON-quoted ("DNS:\"a, b\""), so split on commas outside quotes.
 */
export function splitSubjectAltNames(value: string | undefined): string[] {
  if (!value) return [];
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '"' && value[i - 1] !== '\\') quoted = !quoted;
    if (ch === ',' && !quoted) {
      out.push(current.trim());
      current = '';
    } else {
      current += ch;
    }
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

export function describeCertificate(x509: X509Certificate): CertificateInfo {
  const notAfterMs = Date.parse(x509.validTo);
  const info: CertificateInfo = {
    subject: oneLineName(x509.subject),
    issuer: oneLineName(x509.issuer),
    subjectAltNames: splitSubjectAltNames(x509.subjectAltName),
    serialNumber: x509.serialNumber,
    fingerprint256: x509.fingerprint256,
    notBefore: new Date(Date.parse(x509.validFrom)).toISOString(),
    notAfter: new Date(notAfterMs).toISOString(),
    notAfterMs,
    isCA: x509.ca,
    selfIssued: x509.subject === x509.issuer,
    pem: x509.toString(),
  };
  x509ByInfo.set(info, x509);
  return info;
}

/** The CN of the subject, when there is one. */
export function commonNameOf(info: CertificateInfo): string | undefined {
  return /(?:^|, )CN=([^,]+)/.exec(info.subject)?.[1];
}

/** The shortest name of a certificate for a message: its subject, or its SANs when the subject is empty. */
export function certificateLabel(info: CertificateInfo): string {
  return info.subject || info.subjectAltNames.join(', ') || `serial ${info.serialNumber}`;
}
