// TLS versions as the configuration names them, and what a range of them means to OpenSSL. Used
// by the rules (contiguous ranges), the compiler (min and max), the backend connector and the
// HTTPS listener.
import type { TlsVersion } from './types.js';

export const TLS_VERSIONS: readonly TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

export function versionRange(protocols: readonly TlsVersion[]): { minVersion: TlsVersion; maxVersion: TlsVersion } {
  const sorted = [...protocols].sort((a, b) => TLS_VERSIONS.indexOf(a) - TLS_VERSIONS.indexOf(b));
  return { minVersion: sorted[0]!, maxVersion: sorted[sorted.length - 1]! };
}

/**
 * The cipher string for a range of TLS versions. OpenSSL 3 refuses TLSv1 and TLSv1.1 (SHA-1
 * signatures) unless its security level is 0, so a range reaching below TLSv1.2 lowers it, for
 * that endpoint or listener only (and `validate` warns).
 */
export function effectiveCiphers(minVersion: TlsVersion, ciphers: string | undefined): string | undefined {
  const legacy = TLS_VERSIONS.indexOf(minVersion) < TLS_VERSIONS.indexOf('TLSv1.2');
  if (!legacy) return ciphers;
  return `${ciphers ?? 'DEFAULT'}:@SECLEVEL=0`;
}
