// Checks of the certificates an endpoint trusts, made when a configuration is loaded: expiry
// (SPEC: expired reject|warn, warnBefore) and whether a leaf names the host the verifier checks.
import type { CertificateInfo, EndpointConfig } from '../config/types.js';
import { certificateLabel, x509Of } from './parse.js';
import { verifierAccepts } from './hostname.js';

const DAY_MS = 86_400_000;

export type ExpiryState =
  | { readonly state: 'valid'; readonly daysLeft: number }
  | { readonly state: 'expiring'; readonly daysLeft: number }
  | { readonly state: 'expired'; readonly daysAgo: number }
  | { readonly state: 'not-yet-valid'; readonly daysUntil: number };

export function expiryState(info: CertificateInfo, nowMs: number, warnBeforeMs: number): ExpiryState {
  const notBeforeMs = Date.parse(info.notBefore);
  if (nowMs > info.notAfterMs) return { state: 'expired', daysAgo: Math.floor((nowMs - info.notAfterMs) / DAY_MS) };
  if (nowMs < notBeforeMs) return { state: 'not-yet-valid', daysUntil: Math.ceil((notBeforeMs - nowMs) / DAY_MS) };
  const daysLeft = Math.floor((info.notAfterMs - nowMs) / DAY_MS);
  return info.notAfterMs - nowMs <= warnBeforeMs ? { state: 'expiring', daysLeft } : { state: 'valid', daysLeft };
}

export function plural(n: number, word: string, pluralWord = `${word}s`): string {
  return `${n} ${n === 1 ? word : pluralWord}`;
}

/**
 * When every certificate the endpoint trusts is a leaf (none is a CA that could have issued
 * another certificate), one of them must name the host that the verifier checks, or every
 * handshake fails. Returns why not, or undefined when a handshake can succeed (or we cannot tell).
 */
export function hostnameProblem(endpoint: EndpointConfig): string | undefined {
  const { tls } = endpoint;
  if (endpoint.protocol !== 'https:' || tls.hostnameVerifier === 'AllowAll' || tls.trustSystemCAs) return undefined;
  const certificates = endpoint.certificates.flatMap((file) => file.certificates);
  if (certificates.length === 0 || certificates.some((c) => c.isCA)) return undefined;
  const host = tls.serverName ?? endpoint.hostname;
  if (certificates.some((c) => verifierAccepts(tls.hostnameVerifier, x509Of(c), host))) return undefined;
  const names = certificates
    .map((c) => `${certificateLabel(c)}${c.subjectAltNames.length ? ` [${c.subjectAltNames.join(', ')}]` : ''}`)
    .join('; ');
  const via = tls.serverName ? 'tls.serverName' : 'the URL';
  return `no trusted certificate names "${host}" (from ${via}), which the ${tls.hostnameVerifier} hostname verifier checks: ${names}. The handshake is bound to fail: set tls.serverName to a name in the certificate, reissue it with "${host}" in its SANs, or use hostnameVerifier AllowAll`;
}
