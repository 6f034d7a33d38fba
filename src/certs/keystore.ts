// Keystores, read for the certificates they hold (`gatehouse cert import`): Java's JKS and JCEKS,
// and PKCS#12 (.p12, .pfx, and the .jks files keytool writes since Java 9). The format is told by
// the content, never by the extension. Pure: bytes in, certificates (DER) out. Private keys are
// skipped unread: the certificates folder holds what the gateway trusts, never a key.
import { X509Certificate, createHash, timingSafeEqual } from 'node:crypto';
import forge from 'node-forge';

export type KeystoreFormat = 'JKS' | 'JCEKS' | 'PKCS#12';

export interface KeystoreEntry {
  /** The alias as stored: a JKS alias (keytool lower-cases them), or a PKCS#12 friendlyName. */
  readonly storedAlias?: string;
  /** `trusted`: a trusted certificate entry; `key`: the certificate of a private-key entry. */
  readonly kind: 'trusted' | 'key';
  /** DER of the certificate. */
  readonly der: Buffer;
  /** Key entries of a JKS: how many certificates its chain holds (the first is `der`). */
  readonly chainLength?: number;
}

export type ParsedKeystore =
  | {
      readonly ok: true;
      readonly format: KeystoreFormat;
      readonly entries: readonly KeystoreEntry[];
      /** False when no password was given: a JKS is then read without its integrity check, as `keytool -list` does. */
      readonly verified: boolean;
    }
  | {
      readonly ok: false;
      /** `password`: wrong or missing password; `format`: not a keystore, or one that cannot be read. */
      readonly problem: 'password' | 'format';
      readonly reason: string;
      readonly format?: KeystoreFormat;
    };

/** The JDK's cacerts, with every public root, is about 200 KiB. */
export const MAX_KEYSTORE_FILE_BYTES = 16 * 1024 * 1024;

const JKS_MAGIC = 0xfeedfeed;
const JCEKS_MAGIC = 0xcececece;

export function detectKeystoreFormat(bytes: Buffer): KeystoreFormat | undefined {
  if (bytes.length >= 4 && bytes.readUInt32BE(0) === JKS_MAGIC) return 'JKS';
  if (bytes.length >= 4 && bytes.readUInt32BE(0) === JCEKS_MAGIC) return 'JCEKS';
  // PKCS#12 is a DER SEQUENCE (0x30) with a multi-byte length (0x80 | n): PFX { version 3, ... }.
  if (bytes.length >= 2 && bytes[0] === 0x30 && (bytes[1]! & 0x80) !== 0) return 'PKCS#12';
  return undefined;
}

/** `password` absent: a JKS or JCEKS is read without checking its integrity; PKCS#12 is tried with the empty password. */
export function parseKeystore(bytes: Buffer, password: string | undefined): ParsedKeystore {
  const format = detectKeystoreFormat(bytes);
  if (format === 'JKS' || format === 'JCEKS') return parseJavaKeystore(bytes, format, password);
  if (format === 'PKCS#12') {
    const parsed = parsePkcs12Keystore(bytes, password);
    if (!parsed.ok && parsed.problem === 'format' && isDerCertificate(bytes)) {
      return { ok: false, problem: 'format', reason: 'this is a DER certificate file, not a keystore: copy it into the certificates folder as <alias>.der (or <alias>.crt)' };
    }
    return parsed;
  }
  const text = bytes.subarray(0, 4096).toString('latin1');
  if (text.includes('-----BEGIN CERTIFICATE-----')) {
    return { ok: false, problem: 'format', reason: 'this is a PEM certificate file, not a keystore: copy it into the certificates folder as <alias>.crt' };
  }
  return {
    ok: false,
    problem: 'format',
    reason: `not a keystore: neither JKS, JCEKS nor PKCS#12 (first bytes: ${bytes.subarray(0, 8).toString('hex') || 'none, the file is empty'})`,
  };
}

function isDerCertificate(bytes: Buffer): boolean {
  try {
    new X509Certificate(bytes);
    return true;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------ JKS and JCEKS
//
// The layout of sun.security.provider.JavaKeyStore (JCEKS: com.sun.crypto.provider.JceKeyStore),
// all integers big-endian, strings as java.io.DataOutput.writeUTF (u16 length, "modified UTF-8"):
//
//   u32 magic (FEEDFEED, or CECECECE for JCEKS)   u32 version (1 or 2)   u32 entry count
//   per entry:  u32 tag   UTF alias   u64 creation time (ms)
//     tag 1, private key:   u32 length + the protected key   u32 chain length,
//                           per certificate: [version 2: UTF type, "X.509"] u32 length + DER
//     tag 2, trusted cert:  [version 2: UTF type] u32 length + DER
//     tag 3, secret key (JCEKS only): a serialized Java object, with no length before it
//   20 bytes: SHA-1( password as UTF-16BE || "Mighty Aphrodite" as UTF-8 || every byte above )

const INTEGRITY_SALT = Buffer.from('Mighty Aphrodite', 'utf8');
const DIGEST_BYTES = 20;

class Truncated extends Error {}

/** A cursor over the bytes, every read bounds-checked. */
class Reader {
  offset = 0;
  constructor(private readonly bytes: Buffer) {}

  private need(n: number): void {
    if (n < 0 || this.offset + n > this.bytes.length) throw new Truncated();
  }
  u16(): number {
    this.need(2);
    const value = this.bytes.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }
  u32(): number {
    this.need(4);
    const value = this.bytes.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  skip(n: number): void {
    this.need(n);
    this.offset += n;
  }
  take(n: number): Buffer {
    this.need(n);
    const value = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return value;
  }
  utf(): string {
    return decodeModifiedUtf8(this.take(this.u16()));
  }
}

/**
 * Java's "modified UTF-8": UTF-8 of UTF-16 code units (a character outside the BMP is two
 * 3-byte surrogates; NUL is C0 80). Decoding unit by unit gives the same UTF-16 string Java has.
 */
export function decodeModifiedUtf8(bytes: Buffer): string {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const continuation = (k: number): number => {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) throw new Truncated();
      return c & 0x3f;
    };
    if (b < 0x80) {
      out += String.fromCharCode(b);
      i += 1;
    } else if ((b & 0xe0) === 0xc0) {
      out += String.fromCharCode(((b & 0x1f) << 6) | continuation(1));
      i += 2;
    } else if ((b & 0xf0) === 0xe0) {
      out += String.fromCharCode(((b & 0x0f) << 12) | (continuation(1) << 6) | continuation(2));
      i += 3;
    } else {
      throw new Truncated();
    }
  }
  return out;
}

/** The keystore password as Java feeds it to the digest: each UTF-16 code unit, big-endian. */
function passwordBytes(password: string): Buffer {
  const out = Buffer.alloc(password.length * 2);
  for (let i = 0; i < password.length; i++) out.writeUInt16BE(password.charCodeAt(i), i * 2);
  return out;
}

function integrityHolds(bytes: Buffer, password: string): boolean {
  const body = bytes.subarray(0, bytes.length - DIGEST_BYTES);
  const expected = createHash('sha1').update(passwordBytes(password)).update(INTEGRITY_SALT).update(body).digest();
  return timingSafeEqual(expected, bytes.subarray(bytes.length - DIGEST_BYTES));
}

function parseJavaKeystore(bytes: Buffer, format: 'JKS' | 'JCEKS', password: string | undefined): ParsedKeystore {
  const read = bytes.length < 12 + DIGEST_BYTES ? { damaged: `it is only ${bytes.length} bytes long` } : readJavaKeystoreEntries(bytes, format);
  if ('damaged' in read) return { ok: false, problem: 'format', format, reason: `the ${format} keystore is damaged: ${read.damaged}` };
  // The digest covers every byte before it. A keystore whose structure reads well but whose
  // digest does not match was opened with another password (or altered on purpose).
  if (password !== undefined && !integrityHolds(bytes, password)) {
    return {
      ok: false,
      problem: 'password',
      format,
      reason: `wrong password: the ${format} keystore's integrity check fails with it (or the file was altered)`,
    };
  }
  if ('unsupported' in read) return { ok: false, problem: 'format', format, reason: read.unsupported };
  return { ok: true, format, entries: read.entries, verified: password !== undefined };
}

function readJavaKeystoreEntries(bytes: Buffer, format: 'JKS' | 'JCEKS'): { entries: KeystoreEntry[] } | { damaged: string } | { unsupported: string } {
  const reader = new Reader(bytes.subarray(0, bytes.length - DIGEST_BYTES));
  const entries: KeystoreEntry[] = [];
  try {
    reader.skip(4);
    const version = reader.u32();
    if (version !== 1 && version !== 2) return { damaged: `unknown version ${version} (1 and 2 exist)` };
    const count = reader.u32();
    const certificate = (alias: string): Buffer => {
      if (version === 2) {
        const type = reader.utf();
        if (type !== 'X.509') throw new UnsupportedEntry(`entry "${alias}" holds a ${type} certificate; only X.509 certificates can be imported`);
      }
      return reader.take(reader.u32());
    };
    for (let i = 0; i < count; i++) {
      const tag = reader.u32();
      const alias = reader.utf();
      reader.skip(8); // creation time
      if (tag === 1) {
        reader.skip(reader.u32()); // the protected private key: never decrypted, never kept
        const chainLength = reader.u32();
        const chain: Buffer[] = [];
        for (let k = 0; k < chainLength; k++) chain.push(certificate(alias));
        if (chain[0]) entries.push({ storedAlias: alias, kind: 'key', der: chain[0], chainLength });
      } else if (tag === 2) {
        entries.push({ storedAlias: alias, kind: 'trusted', der: certificate(alias) });
      } else if (tag === 3 && format === 'JCEKS') {
        throw new UnsupportedEntry(
          `entry "${alias}" is a secret key, which is stored without a length and cannot be read past; copy the certificates into a keystore of their own (keytool -importkeystore -srcalias NAME) or export them (keytool -exportcert -rfc -alias NAME)`,
        );
      } else {
        return { damaged: `entry ${i + 1} has an unknown tag ${tag}` };
      }
    }
    const rest = bytes.length - DIGEST_BYTES - reader.offset;
    if (rest !== 0) return { damaged: `${rest} unexpected bytes after the last entry` };
  } catch (e) {
    if (e instanceof UnsupportedEntry) return { unsupported: e.message };
    if (e instanceof Truncated) return { damaged: 'it ends in the middle of an entry (truncated?)' };
    throw e;
  }
  return { entries };
}

class UnsupportedEntry extends Error {}

// ------------------------------------------------------------------ PKCS#12

/** forge.pki.oids.certBag, keyBag, pkcs8ShroudedKeyBag (RFC 7292). */
const CERT_BAG = '1.2.840.113549.1.12.10.1.3';
const KEY_BAGS = ['1.2.840.113549.1.12.10.1.1', '1.2.840.113549.1.12.10.1.2'];

/**
 * PKCS#12 has no entries, only bags: every certificate bag is an entry, named by its friendlyName
 * (keytool stores the alias there). A certificate whose localKeyId matches a key bag's is the
 * certificate of that key. node-forge decrypts the bags and checks the MAC (SHA-1 and SHA-2,
 * PBES2 with AES as OpenSSL 3 and Java 17 write them); it keeps the raw ASN.1 of certificates it
 * cannot decode (EC keys).
 */
export function parsePkcs12Keystore(bytes: Buffer, password: string | undefined): ParsedKeystore {
  const format = 'PKCS#12';
  let asn1: forge.asn1.Asn1;
  try {
    asn1 = forge.asn1.fromDer(bytes.toString('binary'), false);
  } catch (e) {
    return { ok: false, problem: 'format', reason: `not a keystore: it starts like DER but does not decode (${(e as Error).message})` };
  }
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, password ?? '');
  } catch (e) {
    const message = (e as Error).message;
    if (/MAC could not be verified|wrong password|Invalid password|decrypt/i.test(message)) {
      return {
        ok: false,
        problem: 'password',
        format,
        reason: password === undefined ? 'the PKCS#12 file needs a password' : `wrong password: the PKCS#12 file's integrity check (MAC) fails with it`,
      };
    }
    return { ok: false, problem: 'format', format, reason: `not a PKCS#12 file that can be read: ${message}` };
  }
  const keyIds = new Set<string>();
  const certificates: { der: Buffer; friendlyName?: string; localKeyId?: string }[] = [];
  for (const contents of p12.safeContents) {
    for (const bag of contents.safeBags) {
      const attributes = bag.attributes as { localKeyId?: string[]; friendlyName?: string[] };
      const localKeyId = attributes.localKeyId?.[0];
      if (KEY_BAGS.includes(bag.type)) {
        if (localKeyId !== undefined) keyIds.add(localKeyId);
      } else if (bag.type === CERT_BAG) {
        const certAsn1 = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : bag.asn1;
        const friendlyName = attributes.friendlyName?.[0];
        certificates.push({
          der: Buffer.from(forge.asn1.toDer(certAsn1).getBytes(), 'binary'),
          ...(friendlyName ? { friendlyName } : {}),
          ...(localKeyId !== undefined ? { localKeyId } : {}),
        });
      }
    }
  }
  const entries = certificates.map(
    (c): KeystoreEntry => ({
      ...(c.friendlyName ? { storedAlias: c.friendlyName } : {}),
      kind: c.localKeyId !== undefined && keyIds.has(c.localKeyId) ? 'key' : 'trusted',
      der: c.der,
    }),
  );
  return { ok: true, format, entries, verified: true };
}

// ------------------------------------------------------------------ aliases

/** What the configuration accepts as a certificate alias (schemas/gateway.schema.json, definitions.alias). */
export const ALIAS_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * A name from a keystore (an alias, a friendlyName, a CN) as a certificate alias: lower-case;
 * letters, digits, '.', '_' and '-' only, any other run of characters made one '-'; starting with
 * a letter or digit (so never '..' nor a hidden file) and at most 128 characters. Undefined when
 * nothing is left.
 */
export function safeAlias(name: string): string | undefined {
  const alias = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // accents, split off by NFKD: "Zürich" → "zurich"
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 128)
    .replace(/[._-]+$/, '');
  return ALIAS_PATTERN.test(alias) ? alias : undefined;
}
