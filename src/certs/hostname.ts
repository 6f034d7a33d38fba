// Hostname verifiers with the semantics of WSO2 / Synapse, on top of chain trust:
//   Strict               the host must match a SAN, or the CN when there is no SAN; a wildcard
//                        matches exactly one label (*.a.com matches b.a.com, not c.b.a.com)
//   DefaultAndLocalhost  Strict, and localhost, 127.0.0.1 and ::1 pass whatever the certificate names
//   AllowAll             no name check
// Matching is X509Certificate.checkHost / checkIP, which implement RFC 6125 this way.
//
// Also here, because it is the same knowledge: whether a set of trusted certificates can ever
// verify a host, and the one sentence that says what to do when a certificate does not name it.
import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { commonNameOf, x509Of } from './parse.js';
import type { CertificateInfo } from './types.js';

export type HostnameVerifier = 'Strict' | 'DefaultAndLocalhost' | 'AllowAll';

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1']);

/** IPv6 hosts arrive bracketed from URLs ([::1]); names are compared without brackets. */
export function bareHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

export function certificateNamesHost(certificate: X509Certificate, host: string): boolean {
  const bare = bareHost(host);
  return isIP(bare) ? certificate.checkIP(bare) !== undefined : certificate.checkHost(bare) !== undefined;
}

/** Whether the verifier accepts `certificate` for `host` (the chain is checked elsewhere). */
export function verifierAccepts(verifier: HostnameVerifier, certificate: X509Certificate, host: string): boolean {
  if (verifier === 'AllowAll') return true;
  if (verifier === 'DefaultAndLocalhost' && LOCAL_HOSTS.has(bareHost(host).toLowerCase())) return true;
  return certificateNamesHost(certificate, host);
}

/** A DNS name (a.b, possibly with a leading *.), localhost, or an IP address: what a server certificate's CN holds. */
const HOST_NAME = /^(?:\*\.)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9-]*[A-Za-z]$|^localhost$/i;

/** Whether the certificate names a server: it has subject alternative names, or a CN that is a host name or an address. */
export function namesAServer(info: CertificateInfo): boolean {
  if (info.subjectAltNames.length > 0) return true;
  const cn = commonNameOf(info);
  return cn !== undefined && (HOST_NAME.test(cn) || isIP(bareHost(cn)) !== 0);
}

/**
 * Whether a trusted certificate vouches for others, rather than being a server's own: a CA that
 * was issued by another (an intermediate), or a self-signed CA that names no server (a root).
 * `openssl req -x509` marks a self-signed server certificate CA:TRUE by default; that one is a
 * server's own certificate, trusted only when the backend presents it, so its names must match.
 * A self-signed CA that names a server but did sign another certificate of the same set is an
 * issuer too.
 */
export function vouchesForOthers(info: CertificateInfo, among: readonly CertificateInfo[]): boolean {
  if (!info.isCA) return false;
  if (!info.selfIssued || !namesAServer(info)) return true;
  return among.some((other) => other.fingerprint256 !== info.fingerprint256 && signedBy(other, info));
}

/** Whether the `issuer` certificate's key signed `certificate`. */
export function signedBy(certificate: CertificateInfo, issuer: CertificateInfo): boolean {
  if (certificate.issuer !== issuer.subject) return false;
  try {
    return x509Of(certificate).verify(x509Of(issuer).publicKey);
  } catch {
    return false;
  }
}

/** Where the verified host comes from, for messages. */
export interface VerifiedHost {
  readonly host: string;
  readonly verifier: HostnameVerifier;
  /** The host is tls.serverName's, not the URL's. */
  readonly fromServerName: boolean;
}

/** The clause that says which host is checked and by what: `"b.internal" (from the URL), which the Strict hostname verifier checks`. */
export function checkedHostClause(target: VerifiedHost): string {
  return `"${target.host}" (from ${target.fromServerName ? 'tls.serverName' : 'the URL'}), which the ${target.verifier} hostname verifier checks`;
}

/** What to do about a certificate that does not name the checked host: one sentence for every place that says it. */
export function hostnameRemedy(target: VerifiedHost): string {
  return `set tls.serverName to one of its names, have it reissued with "${target.host}" in its SANs, or use hostnameVerifier AllowAll`;
}

/** The names a certificate carries, for messages: its SANs, else its subject. */
export function namesOf(info: CertificateInfo): string {
  return info.subjectAltNames.join(', ') || info.subject || 'no name';
}
