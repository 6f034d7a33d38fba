// Hostname verifiers with the semantics of WSO2 / Synapse (SPEC §2), on top of chain trust:
//   Strict               the host must match a SAN, or the CN when there is no SAN; a wildcard
//                        matches exactly one label (*.a.com matches b.a.com, not c.b.a.com)
//   DefaultAndLocalhost  Strict, and localhost, 127.0.0.1 and ::1 pass whatever the certificate names
//   AllowAll             no name check
// Matching is X509Certificate.checkHost / checkIP, which implement RFC 6125 this way.
import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { HostnameVerifier } from '../config/types.js';

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

export function isLocalHost(host: string): boolean {
  return LOCAL_HOSTS.has(bareHost(host).toLowerCase());
}
