// Two shapes:
// - Document*: the document as written, once it matches the schema and the schema's defaults
//   are filled in (strings with units, inheritance not yet applied);
// - the compiled configuration (GatewayConfig and below): what the rest of Gatehouse uses.
//   Every endpoint carries its effective settings, durations are milliseconds, the whole tree is
//   deep-frozen.
import type { CertificateFile, KeyPairCredentials } from '../certs/types.js';
import type { HostnameVerifier } from '../certs/hostname.js';
import type { ApiKeyEntry } from './keys.js';

export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';
export type Duration = string | number;
export type EndpointRole = 'production' | 'sandbox';
/** round-robin: by weight over the available targets; failover: the first available in list order. */
export type Balance = 'round-robin' | 'failover';

/** WSO2's endpoint suspension (backend/targets.ts). */
export interface SuspendPolicy {
  /** The first suspension (WSO2's initialDuration). */
  readonly initialMs: number;
  /** Each consecutive failure multiplies the suspension by this (progressionFactor). */
  readonly factor: number;
  /** The longest suspension (maximumDuration). */
  readonly maxMs: number;
}

// ------------------------------------------------------------------ the document

export interface DocumentTimeouts {
  connect?: Duration;
  socket?: Duration;
}

export interface DocumentTls {
  protocols?: TlsVersion[];
  ciphers?: string;
  hostnameVerifier?: HostnameVerifier;
  serverName?: string;
  trustSystemCAs?: boolean;
  clientCertificatePassphrase?: string;
}

export interface DocumentHeaders {
  removeAuthorization?: boolean;
  forwarded?: boolean;
  preserveHost?: boolean;
}

/** One backend URL with its own trust and overrides: a v1 endpoint, or a target of a group. */
export interface DocumentTarget {
  url: string;
  certificate?: string | string[];
  clientCertificate?: string;
  timeouts?: DocumentTimeouts;
  tls?: DocumentTls;
  headers?: DocumentHeaders;
  weight?: number;
}

export interface DocumentSuspend {
  initial?: Duration;
  factor?: number;
  max?: Duration;
}

export interface DocumentHealthCheck {
  path: string;
  interval: Duration;
  timeout: Duration;
}

/**
 * An endpoint is either one `url` (v1) or a group of `targets` (SPEC §8); rules.ts holds it to
 * one of the two. Its certificate, tls, timeouts and headers are what its targets inherit.
 */
export interface DocumentEndpoint {
  url?: string;
  certificate?: string | string[];
  clientCertificate?: string;
  timeouts?: DocumentTimeouts;
  tls?: DocumentTls;
  headers?: DocumentHeaders;
  targets?: DocumentTarget[];
  balance: Balance;
  suspend?: DocumentSuspend;
  healthCheck?: DocumentHealthCheck;
}

export interface DocumentResource {
  path: string;
  methods: HttpMethod[];
}

/** apis[].resources: written out, or taken from an OpenAPI / Swagger definition. */
export type DocumentResources = DocumentResource[] | { openapi: string };

/** Who may call an API (SPEC §11). */
export interface DocumentSecurity {
  apiKey?: { header: string };
  jwt?: DocumentJwt;
}

/** security.jwt, with the schema's defaults filled in. */
export interface DocumentJwt {
  issuer: string;
  audience?: string | string[];
  jwks: string;
  certificate?: string;
  jwksRefresh: Duration;
  keyTypeClaim?: string;
  clockTolerance: Duration;
  algorithms: JwtAlgorithm[];
}

/** The signature algorithms a JWT may use: asymmetric only (schemas/gateway.schema.json). */
export type JwtAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

export interface DocumentApi {
  name: string;
  context: string;
  version: string;
  default: boolean;
  endpoints: { production: DocumentEndpoint; sandbox?: DocumentEndpoint };
  timeouts?: DocumentTimeouts;
  tls?: DocumentTls;
  headers?: DocumentHeaders;
  resources?: DocumentResources;
  maxBodySize?: string | number;
  security?: DocumentSecurity;
  rateLimit?: DocumentRateLimit;
}

/** apis[].rateLimit, or a plan (SPEC §11). */
export interface DocumentRateLimit {
  requests: number;
  per: Duration;
}

export type DocumentAddress = string | number;

export interface GatewayDocument {
  version: 1;
  listen: {
    workers: number | string;
    shutdownDelay: Duration;
    shutdownTimeout: Duration;
    headersTimeout: Duration;
    requestTimeout: Duration;
    idleTimeout: Duration;
    trustedProxies: string[];
    http: DocumentAddress;
    https?: { address: DocumentAddress; certificate: string; passphrase?: string; protocols: TlsVersion[]; ciphers?: string };
  };
  admin: { address: DocumentAddress; token?: string };
  accessLog: { destination: string };
  certs: { directory: string; warnBefore: Duration; expired: 'reject' | 'warn' };
  reload: { interval: Duration; preflight: 'off' | 'warn' | 'enforce' };
  defaults: {
    timeouts: Required<DocumentTimeouts>;
    tls: DocumentTls & { protocols: TlsVersion[]; hostnameVerifier: HostnameVerifier };
    headers: Required<DocumentHeaders>;
    suspend: Required<DocumentSuspend>;
    security?: DocumentSecurity;
  };
  apis: DocumentApi[];
  routing: { sandboxHeader: string };
  keys?: { file: string };
  plans?: Record<string, DocumentRateLimit>;
  rateLimits: { store: string; onStoreError: 'allow' | 'deny' };
}

// ------------------------------------------------------------------ the compiled configuration

export interface ListenAddress {
  /** Host as given ('' or '0.0.0.0' for all interfaces); IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
}

export interface TlsSettings {
  readonly protocols: readonly TlsVersion[];
  readonly minVersion: TlsVersion;
  readonly maxVersion: TlsVersion;
  readonly ciphers?: string;
  readonly hostnameVerifier: HostnameVerifier;
  readonly serverName?: string;
  /** Effective value: see defaults.tls.trustSystemCAs in the schema. */
  readonly trustSystemCAs: boolean;
}

export interface TimeoutSettings {
  readonly connectMs: number;
  readonly socketMs: number;
}

export interface HeaderSettings {
  readonly removeAuthorization: boolean;
  readonly forwarded: boolean;
  readonly preserveHost: boolean;
}

/**
 * One backend URL with its effective settings: the `url` of a v1 endpoint, or one target of a
 * group. Connections, trust, probes and certificate checks are per target.
 */
/** Where an endpoint or a target is in the configuration, and how messages name it. */
export interface ConfigPlace {
  readonly role: EndpointRole;
  /** Configuration path, for messages: apis[0].endpoints.production, or apis[0].endpoints.production.targets[1] */
  readonly path: string;
  /** Its JSON Pointer in the document (/apis/0/endpoints/production), to find its line when a reload or the runtime reports on it. */
  readonly pointer: string;
  /** The API it belongs to. */
  readonly api: { readonly name: string; readonly version: string };
  /** `Shop 1.0 production`, or `Shop 1.0 production target 2`: how /status, metrics, plan and cert list name it. */
  readonly name: string;
  /** `API "Shop" version 1.0, production endpoint` (`..., target 2`): how messages to clients name it. */
  readonly description: string;
}

export interface TargetConfig extends ConfigPlace {
  /** Its position in the group (0 for a v1 endpoint's url). */
  readonly index: number;
  /** Its share of a round-robin group (1 unless given). */
  readonly weight: number;
  readonly url: string;
  readonly protocol: 'http:' | 'https:';
  /** The URL's host name (IPv6 without brackets), the name verified unless tls.serverName is set. */
  readonly hostname: string;
  readonly port: number;
  /** scheme://host:port */
  readonly origin: string;
  /** The URL's path without a trailing slash ('' for the root). */
  readonly basePath: string;
  readonly certificateAliases: readonly string[];
  /** The files of the aliases that exist, in the order the aliases are listed. */
  readonly certificates: readonly CertificateFile[];
  /** Aliases whose file does not exist yet. */
  readonly pendingAliases: readonly string[];
  readonly tls: TlsSettings;
  readonly timeouts: TimeoutSettings;
  readonly headers: HeaderSettings;
  /** The certificate presented to the backend (mutual TLS, SPEC §9), when clientCertificate names one. */
  readonly clientCertificate?: ClientCertificate;
}

export interface ClientCertificate {
  readonly alias: string;
  /** Undefined while the pair's files are not in the certificates folder (503 CERTIFICATE_PENDING). */
  readonly credentials: KeyPairCredentials | undefined;
  /** tls.clientCertificatePassphrase: a secret, never logged nor summarized. */
  readonly passphrase?: string;
}

export interface HealthCheckSettings {
  /** Requested with GET on the target's origin (not below its URL's path): /health */
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

/** An API's production or sandbox endpoint: one target (a v1 `url`) or a group of them. */
export interface EndpointConfig extends ConfigPlace {
  /** False for a v1 `url`: one target, never suspended (nginx's rule for an upstream of one server). */
  readonly group: boolean;
  readonly balance: Balance;
  readonly targets: readonly TargetConfig[];
  readonly suspend: SuspendPolicy;
  readonly healthCheck?: HealthCheckSettings;
}

export interface ResourceConfig {
  readonly path: string;
  readonly methods: readonly HttpMethod[];
}

/** An OpenAPI or Swagger definition an API's resources come from (config/openapi.ts). */
export interface OpenApiDefinition {
  /** Absolute. */
  readonly file: string;
  readonly sha256: string;
  /** "OpenAPI 3.0.3", "Swagger 2.0". */
  readonly specification: string;
  readonly resources: readonly ResourceConfig[];
  /** What the definition says that routing does not use: "basePath /v1", "servers https://…", "TRACE /x". */
  readonly ignored: readonly string[];
}

export interface ApiConfig {
  readonly name: string;
  readonly context: string;
  readonly version: string;
  readonly isDefault: boolean;
  readonly path: string;
  readonly production: EndpointConfig;
  readonly sandbox?: EndpointConfig;
  /** Absent: every path and method is allowed. */
  readonly resources?: readonly ResourceConfig[];
  /** The definition `resources` was taken from (resources: { openapi }), when it was. */
  readonly resourcesFrom?: OpenApiDefinition;
  /** Absent: no limit on request bodies. */
  readonly maxBodyBytes?: number;
  /** Absent: anyone may call (an open API, v1's behaviour). */
  readonly security?: SecurityConfig;
  /** Absent: the API has no limit of its own (a key's plan may still limit it). */
  readonly rateLimit?: RateLimitConfig;
}

/** A limit, compiled: `requests` per `perMs`, a whole number of seconds (limits/rules.ts says why). */
export interface RateLimitConfig {
  readonly requests: number;
  readonly perMs: number;
}

/** A plan of `plans`: the limit the keys that name it draw from, on each API. */
export interface PlanConfig extends RateLimitConfig {
  readonly name: string;
}

/** The API's own security, or defaults.security; `{}` written on an API leaves it open (no key). */
export interface SecurityConfig {
  /** The request header that carries an API key, lower-cased (as Node presents header names). */
  readonly apiKey?: { readonly header: string };
  readonly jwt?: JwtConfig;
}

/** security.jwt, compiled: what a token must say, and where the keys that sign it are. */
export interface JwtConfig {
  readonly issuer: string;
  /** Absent: the audience is not checked. */
  readonly audience?: readonly string[];
  readonly keyTypeClaim?: string;
  readonly clockToleranceS: number;
  readonly algorithms: readonly JwtAlgorithm[];
  readonly jwks: JwksSource;
}

/** The issuer's public keys: a file read with the configuration, or an https URL the gateway fetches. */
export type JwksSource = JwksFile | JwksUrl;

export interface JwksFile {
  readonly kind: 'file';
  /** Absolute path. */
  readonly file: string;
  /** Of the file's bytes: part of the revision. */
  readonly sha256: string;
  /** The key set as the file holds it, checked (config/jwks.ts). */
  readonly set: JsonWebKeySet;
}

export interface JwksUrl {
  readonly kind: 'url';
  readonly url: string;
  readonly refreshMs: number;
  /** How the URL is reached: its trust (jwt.certificate), verifier, protocols and timeouts, as an endpoint's. */
  readonly target: TargetConfig;
}

/** A JWKS (RFC 7517 §5): public keys, each an object with at least kty. */
export interface JsonWebKeySet {
  readonly keys: readonly Readonly<Record<string, unknown>>[];
}

/** keys.file, read: the entries, and the SHA-256 of the file's bytes (part of the revision). */
export interface KeysConfig {
  readonly file: string;
  readonly sha256: string;
  readonly entries: readonly ApiKeyEntry[];
}

export interface HttpsListenerConfig {
  readonly address: ListenAddress;
  readonly certificate: string;
  readonly passphrase?: string;
  readonly protocols: readonly TlsVersion[];
  readonly minVersion: TlsVersion;
  readonly maxVersion: TlsVersion;
  readonly ciphers?: string;
  /** The listener's own key material, as read from the certificates folder. */
  readonly credentials: KeyPairCredentials;
}

/** accessLog.destination: `file` with an absolute path, or one of the streams. */
export type AccessLogConfig = { readonly destination: 'stdout' | 'stderr' | 'off' } | { readonly destination: 'file'; readonly file: string };

export interface GatewayConfig {
  /** Absolute path of the configuration file. */
  readonly file: string;
  /** SHA-256 over the configuration's bytes and every referenced certificate file. */
  readonly revision: string;
  readonly listen: {
    readonly http: ListenAddress;
    readonly https?: HttpsListenerConfig;
    /** Processes that serve requests: a number, or auto (one per CPU the process may use; see workers/count.ts). */
    readonly workers: number | 'auto';
    /** On SIGTERM: accepting on while /readyz answers 503, before the drain. */
    readonly shutdownDelayMs: number;
    readonly shutdownTimeoutMs: number;
    /** Client limits: headers within, whole request within, idle keep-alive. */
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly idleTimeoutMs: number;
    /** IPs and CIDR ranges (validated) whose X-Forwarded-* headers are believed. */
    readonly trustedProxies: readonly string[];
  };
  readonly admin: { readonly address: ListenAddress; readonly token?: string };
  readonly accessLog: AccessLogConfig;
  readonly certs: { readonly directory: string; readonly warnBeforeMs: number; readonly expired: 'reject' | 'warn' };
  readonly reload: { readonly intervalMs: number; readonly preflight: 'off' | 'warn' | 'enforce' };
  readonly routing: { readonly sandboxHeader: string };
  readonly apis: readonly ApiConfig[];
  /** keys.file, read; absent when the configuration has none. */
  readonly keys?: KeysConfig;
  /** `plans`, in the order written (a list, not a record: a plan may be called "constructor"). */
  readonly plans: readonly PlanConfig[];
  /** rateLimits: `store` is memory or a Redis URL (password and all: never log it; see store-url.ts). */
  readonly rateLimits: { readonly store: string; readonly onStoreError: 'allow' | 'deny' };
  /** Every file in the certificates folder that parsed, referenced or not (the inventory). */
  readonly inventory: readonly CertificateFile[];
}
