// Queries over a compiled configuration that many places ask: its endpoints, whether one waits
// for its certificate, who uses which certificate alias, and every certificate in use. One home,
// so that /status, the metrics, the expiry lines, cert list, cert fetch, check and the revision
// cannot disagree.
import type { VerifiedHost } from '../certs/hostname.js';
import type { CertificateInfo } from '../certs/types.js';
import { closestWord } from '../text.js';
import type { ApiConfig, EndpointConfig, GatewayConfig, TargetConfig } from './types.js';

/** Every endpoint, in the order of the configuration: each API's production, then its sandbox. */
export function endpointsOf(config: { readonly apis: readonly ApiConfig[] }): EndpointConfig[] {
  return config.apis.flatMap((api) => (api.sandbox ? [api.production, api.sandbox] : [api.production]));
}

/** Every backend URL, in the order of the configuration: each endpoint's url, or each of its targets. */
export function targetsOf(config: { readonly apis: readonly ApiConfig[] }): TargetConfig[] {
  return config.apis.flatMap((api) => (api.sandbox ? [...api.production.targets, ...api.sandbox.targets] : api.production.targets));
}

/**
 * An https target with certificate aliases none of which has a file yet (it has nothing to
 * trust), or whose client certificate has no files yet: it has no pool and answers 503
 * CERTIFICATE_PENDING (or is left out of its group).
 */
export function isPending(endpoint: TargetConfig): boolean {
  if (endpoint.protocol !== 'https:') return false;
  // Also waiting: a client certificate whose pair is not in the folder yet (SPEC §9).
  return (endpoint.certificateAliases.length > 0 && endpoint.certificates.length === 0) || (endpoint.clientCertificate !== undefined && endpoint.clientCertificate.credentials === undefined);
}

/** The host an endpoint's hostname verifier checks: tls.serverName, else the URL's host. */
export function verifiedHost(endpoint: TargetConfig): VerifiedHost {
  return { host: endpoint.tls.serverName ?? endpoint.hostname, verifier: endpoint.tls.hostnameVerifier, fromServerName: endpoint.tls.serverName !== undefined };
}

/**
 * The alias of the folder a pending alias of the endpoint was probably meant to be (a misspelt
 * alias looks exactly like one whose file is not there yet). The endpoint's own other aliases,
 * a rotation list, are not candidates.
 */
export function misspeltAlias(endpoint: TargetConfig, known: readonly string[]): string | undefined {
  const candidates = known.filter((k) => !endpoint.certificateAliases.includes(k));
  for (const alias of endpoint.pendingAliases) {
    const guess = closestWord(alias, candidates);
    if (guess) return guess;
  }
  return undefined;
}

/** The endpoints that reference each certificate alias, in the order of the configuration. */
export function certificateUsers(endpoints: readonly TargetConfig[]): Map<string, TargetConfig[]> {
  const users = new Map<string, TargetConfig[]>();
  for (const endpoint of endpoints) {
    for (const alias of endpoint.certificateAliases) {
      const list = users.get(alias);
      if (list) list.push(endpoint);
      else users.set(alias, [endpoint]);
    }
  }
  return users;
}

/** Who uses a certificate in use: an endpoint's name, or `listen.https` for the listener's own. */
export const LISTENER_USER = 'listen.https';

/** What a certificate in use is for: trusted for backends, presented to backends, or the HTTPS listener's own. */
export type CertificateUse = 'trust' | 'client' | 'listener';

export interface CertificateInUse extends Pick<CertificateInfo, 'fingerprint256' | 'notAfterMs' | 'subject'> {
  readonly alias: string;
  readonly use: CertificateUse;
  /** `Shop 1.0 production`, or `listen.https`. */
  readonly usedBy: readonly string[];
}

/** Every certificate the configuration uses, once per alias, use and fingerprint, with who uses it. */
export function certificatesInUse(config: GatewayConfig): CertificateInUse[] {
  const byKey = new Map<string, CertificateInUse & { usedBy: string[] }>();
  const add = (alias: string, use: CertificateUse, certificate: CertificateInfo, user: string) => {
    const key = `${alias}\0${use}\0${certificate.fingerprint256}`;
    let entry = byKey.get(key);
    if (!entry) {
      entry = { alias, use, fingerprint256: certificate.fingerprint256, notAfterMs: certificate.notAfterMs, subject: certificate.subject, usedBy: [] };
      byKey.set(key, entry);
    }
    if (!entry.usedBy.includes(user)) entry.usedBy.push(user);
  };
  for (const endpoint of targetsOf(config)) {
    for (const file of endpoint.certificates) for (const certificate of file.certificates) add(file.alias, 'trust', certificate, endpoint.name);
    const client = endpoint.clientCertificate;
    // The pair's own certificate, not the chain it may carry: that is what expires for the backend.
    const leaf = client?.credentials?.certificates[0];
    if (client && leaf) add(client.alias, 'client', leaf, endpoint.name);
  }
  const https = config.listen.https;
  if (https) for (const certificate of https.credentials.certificates) add(https.certificate, 'listener', certificate, LISTENER_USER);
  return [...byKey.values()];
}
