// A configuration as plain, serializable data without secrets: what /status shows, what a reload
// logs as changed, and what `gatehouse plan` compares. One shape for the three, so that a
// running gateway and a file on disk can be compared field by field.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { CertificateFile, CertificateInfo } from '../certs/types.js';
import { formatDuration } from './durations.js';
import type { ApiConfig, ClientCertificate, EndpointConfig, GatewayConfig, OpenApiDefinition, SecurityConfig, TargetConfig } from './types.js';

export interface CertificateSummary {
  readonly subject: string;
  readonly issuer: string;
  readonly subjectAltNames: readonly string[];
  readonly fingerprint256: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly isCA: boolean;
}

export interface CertificateFileSummary {
  readonly alias: string;
  readonly file: string;
  readonly sha256: string;
  readonly certificates: readonly CertificateSummary[];
}

/** One backend URL: a v1 endpoint as a whole, or one target of a group (then with its weight). */
export interface TargetSummary {
  readonly url: string;
  readonly certificates: readonly string[];
  readonly pendingCertificates: readonly string[];
  /** Fingerprints of every certificate the endpoint trusts, in order. */
  readonly trustedFingerprints: readonly string[];
  readonly tls: {
    readonly protocols: readonly string[];
    readonly ciphers?: string;
    readonly hostnameVerifier: string;
    readonly serverName?: string;
    readonly trustSystemCAs: boolean;
  };
  readonly timeouts: { readonly connectMs: number; readonly socketMs: number };
  readonly headers: { readonly removeAuthorization: boolean; readonly forwarded: boolean; readonly preserveHost: boolean };
  readonly weight?: number;
  /** The certificate presented to the backend: its alias and, once its files are there, which certificate (never the key). */
  readonly clientCertificate?: { readonly alias: string; readonly pending?: true; readonly subject?: string; readonly fingerprint256?: string; readonly notAfter?: string };
}

export interface GroupSummary {
  readonly balance: string;
  readonly suspend: { readonly initialMs: number; readonly factor: number; readonly maxMs: number };
  readonly healthCheck?: { readonly path: string; readonly intervalMs: number; readonly timeoutMs: number };
  readonly targets: readonly TargetSummary[];
}

/** A v1 endpoint keeps the shape it always had (plan --against a running gateway compares them). */
export type EndpointSummary = TargetSummary | GroupSummary;

export function isGroupSummary(endpoint: EndpointSummary): endpoint is GroupSummary {
  return 'targets' in endpoint;
}

export interface ApiSummary {
  readonly name: string;
  readonly version: string;
  readonly context: string;
  readonly default: boolean;
  /** "GET,PUT /order/{orderId}", or absent when every path is allowed. */
  readonly resources?: readonly string[];
  /** The definition the resources were taken from: its file name and specification, and what routing does not use of it. */
  readonly resourcesFrom?: { readonly file: string; readonly specification: string; readonly ignored?: readonly string[] };
  readonly maxBodyBytes?: number;
  /** Who may call it: absent for an open API. A JWKS file is named by its file name (a checkout and a container differ in folders). */
  readonly security?: SecuritySummary;
  /** Its own rate limit: "100 per 1s"; absent when it has none. */
  readonly rateLimit?: string;
  readonly endpoints: { readonly production: EndpointSummary; readonly sandbox?: EndpointSummary };
}

export interface SecuritySummary {
  readonly apiKey?: { readonly header: string };
  readonly jwt?: { readonly issuer: string; readonly audience?: readonly string[]; readonly jwks: string; readonly keyTypeClaim?: string; readonly algorithms: readonly string[] };
}

export interface ConfigSummary {
  readonly revision: string;
  /** Changes when any file of the certificates folder changes, referenced or not. */
  readonly inventoryDigest: string;
  readonly apis: readonly ApiSummary[];
  readonly certificates: readonly CertificateFileSummary[];
}

export function summarizeCertificate(c: CertificateInfo): CertificateSummary {
  return { subject: c.subject, issuer: c.issuer, subjectAltNames: c.subjectAltNames, fingerprint256: c.fingerprint256, notBefore: c.notBefore, notAfter: c.notAfter, isCA: c.isCA };
}

export function summarizeCertificateFile(file: CertificateFile): CertificateFileSummary {
  return { alias: file.alias, file: file.path, sha256: file.sha256, certificates: file.certificates.map(summarizeCertificate) };
}

function summarizeEndpoint(endpoint: EndpointConfig): EndpointSummary {
  if (!endpoint.group) return summarizeTarget(endpoint.targets[0]!);
  return {
    balance: endpoint.balance,
    suspend: { ...endpoint.suspend },
    ...(endpoint.healthCheck ? { healthCheck: { ...endpoint.healthCheck } } : {}),
    targets: endpoint.targets.map((target) => ({ ...summarizeTarget(target), weight: target.weight })),
  };
}

function summarizeTarget(endpoint: TargetConfig): TargetSummary {
  const { tls } = endpoint;
  return {
    url: endpoint.url,
    certificates: endpoint.certificateAliases,
    pendingCertificates: endpoint.pendingAliases,
    trustedFingerprints: endpoint.certificates.flatMap((f) => f.certificates.map((c) => c.fingerprint256)),
    tls: {
      protocols: tls.protocols,
      ...(tls.ciphers !== undefined ? { ciphers: tls.ciphers } : {}),
      hostnameVerifier: tls.hostnameVerifier,
      ...(tls.serverName !== undefined ? { serverName: tls.serverName } : {}),
      trustSystemCAs: tls.trustSystemCAs,
    },
    timeouts: { connectMs: endpoint.timeouts.connectMs, socketMs: endpoint.timeouts.socketMs },
    headers: { ...endpoint.headers },
    ...(endpoint.clientCertificate ? { clientCertificate: summarizeClientCertificate(endpoint.clientCertificate) } : {}),
  };
}

function summarizeClientCertificate(client: ClientCertificate): NonNullable<TargetSummary['clientCertificate']> {
  const leaf = client.credentials?.certificates[0];
  return leaf ? { alias: client.alias, subject: leaf.subject, fingerprint256: leaf.fingerprint256, notAfter: leaf.notAfter } : { alias: client.alias, pending: true };
}

/** Named by its file name, as a JWKS file is: a checkout and a container differ in folders. */
function summarizeDefinition(definition: OpenApiDefinition): NonNullable<ApiSummary['resourcesFrom']> {
  return { file: path.basename(definition.file), specification: definition.specification, ...(definition.ignored.length > 0 ? { ignored: definition.ignored } : {}) };
}

export function summarizeApi(api: ApiConfig): ApiSummary {
  return {
    name: api.name,
    version: api.version,
    context: api.context,
    default: api.isDefault,
    ...(api.resources ? { resources: api.resources.map((r) => `${r.methods.join(',')} ${r.path}`) } : {}),
    ...(api.resourcesFrom ? { resourcesFrom: summarizeDefinition(api.resourcesFrom) } : {}),
    ...(api.maxBodyBytes !== undefined ? { maxBodyBytes: api.maxBodyBytes } : {}),
    ...(api.security ? { security: summarizeSecurity(api.security) } : {}),
    ...(api.rateLimit ? { rateLimit: `${api.rateLimit.requests} per ${formatDuration(api.rateLimit.perMs)}` } : {}),
    endpoints: {
      production: summarizeEndpoint(api.production),
      ...(api.sandbox ? { sandbox: summarizeEndpoint(api.sandbox) } : {}),
    },
  };
}

function summarizeSecurity(security: SecurityConfig): SecuritySummary {
  const jwt = security.jwt;
  return {
    ...(security.apiKey ? { apiKey: { header: security.apiKey.header } } : {}),
    ...(jwt
      ? {
          jwt: {
            issuer: jwt.issuer,
            ...(jwt.audience ? { audience: jwt.audience } : {}),
            jwks: jwt.jwks.kind === 'url' ? jwt.jwks.url : path.basename(jwt.jwks.file),
            ...(jwt.keyTypeClaim !== undefined ? { keyTypeClaim: jwt.keyTypeClaim } : {}),
            algorithms: jwt.algorithms,
          },
        }
      : {}),
  };
}

export function inventoryDigestOf(inventory: readonly CertificateFile[]): string {
  const hash = createHash('sha256');
  for (const file of [...inventory].sort((a, b) => (a.path < b.path ? -1 : 1))) hash.update(`${file.path}\0${file.sha256}\0`);
  return hash.digest('hex');
}

export function summarizeConfig(config: GatewayConfig): ConfigSummary {
  return {
    revision: config.revision,
    inventoryDigest: inventoryDigestOf(config.inventory),
    apis: config.apis.map(summarizeApi),
    certificates: config.inventory.map(summarizeCertificateFile),
  };
}
