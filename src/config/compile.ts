// Compile: a valid document plus the files read from the certificates folder → the typed,
// effective configuration (inheritance applied, durations in milliseconds, certificates parsed),
// with the certificate diagnostics of docs/certificates.md. Pure: all I/O happened before.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { expiryState } from '../certs/expiry.js';
import { checkKeyPairFiles, checkKeyPermissions, keyPairBytes } from '../certs/key-pair.js';
import type { KeyPairFiles } from '../certs/key-pair.js';
import { certificateLabel, forgetUnusedCertificates, parseCertificateFile } from '../certs/parse.js';
import type { CertificateDirectory } from '../certs/read.js';
import type { CertificateFile, KeyPairCredentials } from '../certs/types.js';
import type { Diagnostic } from '../diagnostics.js';
import { closestWord, plural } from '../text.js';
import { parseAddress } from './address.js';
import { parseDuration, parseSize } from './durations.js';
import { hostnameProblem } from './hostname-rule.js';
import type { Reporter } from './reporter.js';
import { certificateOf, clientCertificateOf, endpointPointer, endpointTargets, isJwksUrl, resolveSetting, resolveSuspend, securityOf, targetOf } from './resolve.js';
import type { TargetRef } from './resolve.js';
import { versionRange } from './tls.js';
import { certificateUsers, misspeltAlias, targetsOf } from './usage.js';
import type { HostnameVerifier } from '../certs/hostname.js';
import type { ApiConfig, ClientCertificate, DocumentRateLimit, KeysConfig, PlanConfig, RateLimitConfig, SecurityConfig, DocumentJwt, JwksFile, JwksSource, JwtConfig, OpenApiDefinition, EndpointConfig, EndpointRole, TargetConfig, GatewayConfig, GatewayDocument, HttpsListenerConfig, TlsVersion } from './types.js';

export interface CompileInput {
  readonly file: string;
  readonly document: GatewayDocument;
  /** Absolute path of the certificates folder. */
  readonly certsDirectory: string;
  readonly certificates: CertificateDirectory;
  readonly listenerFiles?: KeyPairFiles;
  /** The files of every clientCertificate alias, read by load.ts. */
  readonly clientFiles?: ReadonlyMap<string, KeyPairFiles>;
  readonly nowMs: number;
  /** SHA-256 of the configuration file's bytes. */
  readonly configSha256: string;
  /** keys.file, read and parsed by load.ts (its errors are the reporter's already). */
  readonly keys?: KeysConfig;
  /** The JWKS files security.jwt names, read and parsed by load.ts, by absolute path. */
  readonly jwksFiles?: ReadonlyMap<string, JwksFile>;
  /** The OpenAPI definitions resources.openapi names, read and parsed by load.ts, by absolute path. */
  readonly openApiFiles?: ReadonlyMap<string, OpenApiDefinition>;
}

/** Returns the configuration, or undefined when the reporter holds errors. */
export function compileConfig(input: CompileInput, r: Reporter): GatewayConfig | undefined {
  const { document: doc, nowMs } = input;
  const warnBeforeMs = parseDuration(doc.certs.warnBefore)!;
  const files = compileCertificateFiles(input);

  const apis: ApiConfig[] = doc.apis.map((api, i) => {
    const before = compiledApis.get(api);
    if (before && before.document === doc && sameTrust(before.api, files.byAlias) && sameJwks(before.api, input.jwksFiles, files.byAlias) && sameDefinition(before.api, input.openApiFiles)) {
      r.diagnostics.push(...before.diagnostics);
      return before.api;
    }
    const from = r.diagnostics.length;
    const production = compileEndpoint(input, i, 'production', files.byAlias, r);
    const sandbox = api.endpoints.sandbox ? compileEndpoint(input, i, 'sandbox', files.byAlias, r) : undefined;
    const compiled: ApiConfig = {
      name: api.name,
      context: api.context,
      version: api.version,
      isDefault: api.default,
      path: `apis[${i}]`,
      production,
      ...(sandbox ? { sandbox } : {}),
      ...compileResources(input, i),
      ...(api.maxBodySize !== undefined ? { maxBodyBytes: parseSize(api.maxBodySize)! } : {}),
      ...compileSecurity(input, i, files.byAlias, r),
      ...(api.rateLimit ? { rateLimit: compileRateLimit(api.rateLimit) } : {}),
    };
    // An endpoint waiting for a file is compiled every time: its warning names the folder's aliases.
    const waiting = [compiled.production, compiled.sandbox].some((e) => e?.targets.some((t) => t.pendingAliases.length > 0));
    // An API whose definition could not be used is compiled again next time: its resources are a stand-in.
    const definitionMissing = api.resources !== undefined && !Array.isArray(api.resources) && !compiled.resourcesFrom;
    if (!waiting && !definitionMissing && input.certificates.error === undefined) compiledApis.set(api, { document: doc, api: compiled, diagnostics: r.diagnostics.slice(from) });
    return compiled;
  });
  // The JWKS URLs are reached as endpoints are: their certificates are used, expire and count in the revision alike.
  const endpoints = [...targetsOf({ apis }), ...jwksTargetsOf(apis)];
  const users = certificateUsers(endpoints);
  const usedBy = (alias: string): string => (users.get(alias) ?? []).map((e) => e.path).join(', ');

  // Files that could not be read or parsed: an error when referenced, else an inventory warning.
  for (const failure of files.failures) {
    const referenced = users.has(failure.alias);
    r.fileDiagnostic(
      referenced ? 'error' : 'warning',
      failure.code,
      failure.path,
      `${failure.reason}${referenced ? ` (certificate alias "${failure.alias}", used by ${usedBy(failure.alias)})` : ' (not referenced by any endpoint: inventory only)'}`,
      failure.line,
    );
  }
  for (const file of files.withPrivateKey) {
    r.fileDiagnostic(
      'warning',
      'CERT_KEY_IN_TRUST_FILE',
      file,
      'holds a private key besides the certificate: the certificates folder holds what the gateway trusts; keep keys out of it',
    );
  }
  const folder = input.certificates;
  if (folder.error !== undefined && users.size > 0) {
    // A folder that is not there yet is a first start (the files come later: every endpoint
    // waits for its certificate). One that is there but cannot be read is a fault: refuse it
    // rather than serve 503 from every endpoint.
    r.fileDiagnostic(
      folder.missing ? 'warning' : 'error',
      'CERT_DIRECTORY',
      folder.directory,
      folder.missing
        ? `the certificates folder does not exist: every endpoint with a certificate answers 503 CERTIFICATE_PENDING until its file appears (certs.directory is relative to the configuration file's folder)`
        : `the certificates folder cannot be read: ${folder.error}; fix its permissions (the gateway's user must list and read it)`,
    );
  }

  // Expiry of every referenced file, once per file.
  for (const [alias, list] of users) {
    const found = files.byAlias.get(alias);
    if (!found || found.length > 1) continue;
    const file = found[0]!;
    for (const info of file.certificates) {
      const state = expiryState(info, nowMs, warnBeforeMs);
      const who = `used by ${list.map((e) => e.path).join(', ')}`;
      const name = `certificate "${certificateLabel(info)}"`;
      if (state.state === 'expired') {
        const reject = doc.certs.expired === 'reject';
        // An expired certificate is refused by every handshake whatever is trusted: `warn` only
        // lets the rest of the configuration load (a rotation list, an endpoint being retired).
        r.fileDiagnostic(
          reject ? 'error' : 'warning',
          'CERT_EXPIRED',
          file.path,
          `${name} expired on ${info.notAfter} (${plural(state.daysAgo, 'day')} ago), ${who}: handshakes that need it fail${
            reject ? '; drop the renewed certificate in (certs.expired: warn loads the configuration anyway, and those handshakes still fail)' : ' (502 BACKEND_TLS_UNTRUSTED) until the renewed certificate is dropped in'
          }`,
        );
      } else if (state.state === 'not-yet-valid') {
        r.fileDiagnostic('warning', 'CERT_NOT_YET_VALID', file.path, `${name} is not valid before ${info.notBefore} (in ${plural(state.daysUntil, 'day')}), ${who}; handshakes fail until then`);
      } else if (state.state === 'expiring') {
        r.fileDiagnostic('warning', 'CERT_EXPIRING', file.path, `${name} expires on ${info.notAfter} (in ${plural(state.daysLeft, 'day')}), ${who}; renew it`);
      }
    }
  }

  const https = compileHttpsListener(input, r);
  const plans = Object.entries(doc.plans ?? {}).map(([name, plan]): PlanConfig => ({ name, ...compileRateLimit(plan) }));
  if (input.keys) checkKeyEntries(input.keys, apis, plans, r);

  if (r.diagnostics.some((d) => d.severity === 'error')) return undefined;

  return {
    file: input.file,
    revision: revisionOf(input, endpoints, https),
    listen: {
      http: parseAddress(doc.listen.http)!,
      ...(https ? { https } : {}),
      workers: doc.listen.workers === 'auto' ? 'auto' : Number(doc.listen.workers),
      shutdownDelayMs: parseDuration(doc.listen.shutdownDelay)!,
      shutdownTimeoutMs: parseDuration(doc.listen.shutdownTimeout)!,
      headersTimeoutMs: parseDuration(doc.listen.headersTimeout)!,
      requestTimeoutMs: parseDuration(doc.listen.requestTimeout)!,
      idleTimeoutMs: parseDuration(doc.listen.idleTimeout)!,
      trustedProxies: [...doc.listen.trustedProxies],
    },
    admin: { address: parseAddress(doc.admin.address)!, ...(doc.admin.token ? { token: doc.admin.token } : {}) },
    accessLog: compileAccessLog(input, doc.accessLog.destination),
    certs: { directory: input.certsDirectory, warnBeforeMs, expired: doc.certs.expired },
    reload: { intervalMs: parseDuration(doc.reload.interval)!, preflight: doc.reload.preflight },
    routing: { sandboxHeader: doc.routing.sandboxHeader },
    apis,
    ...(input.keys ? { keys: input.keys } : {}),
    plans,
    rateLimits: { store: doc.rateLimits.store, onStoreError: doc.rateLimits.onStoreError },
    inventory: [...files.byAlias.values()].flat(),
  };
}

/** An API's security as the proxy uses it; nothing for an open API (no section, or `{}`). */
function compileSecurity(input: CompileInput, i: number, byAlias: Map<string, CertificateFile[]>, r: Reporter): { security?: SecurityConfig } {
  const { security, pointer } = securityOf(input.document, i);
  const jwt = security?.jwt ? compileJwt(input, i, security.jwt, `${pointer}/jwt`, byAlias, r) : undefined;
  if (!security?.apiKey && !jwt) return {};
  return { security: { ...(security?.apiKey ? { apiKey: { header: security.apiKey.header.toLowerCase() } } : {}), ...(jwt ? { jwt } : {}) } };
}

/** security.jwt: durations in seconds, the audience a list, the JWKS file read or the URL as a target. Undefined when its file could not be read (load.ts said why). */
function compileJwt(input: CompileInput, i: number, jwt: DocumentJwt, pointer: string, byAlias: Map<string, CertificateFile[]>, r: Reporter): JwtConfig | undefined {
  let jwks: JwksSource | undefined;
  if (isJwksUrl(jwt.jwks)) {
    jwks = { kind: 'url', url: jwt.jwks, refreshMs: parseDuration(jwt.jwksRefresh)!, target: compileJwksTarget(input, i, jwt, pointer, byAlias, r) };
  } else {
    jwks = input.jwksFiles?.get(path.resolve(path.dirname(input.file), jwt.jwks));
  }
  if (!jwks) return undefined;
  return {
    issuer: jwt.issuer,
    ...(jwt.audience !== undefined ? { audience: typeof jwt.audience === 'string' ? [jwt.audience] : [...jwt.audience] } : {}),
    ...(jwt.keyTypeClaim !== undefined ? { keyTypeClaim: jwt.keyTypeClaim } : {}),
    clockToleranceS: parseDuration(jwt.clockTolerance)! / 1000,
    algorithms: [...jwt.algorithms],
    jwks,
  };
}

/**
 * How an https:// jwks URL is reached: as an endpoint of the API would be, with defaults.tls and
 * defaults.timeouts, trusting jwt.certificate (then not the system roots, as an endpoint with a
 * certificate) or else the system roots.
 */
function compileJwksTarget(input: CompileInput, i: number, jwt: DocumentJwt, pointer: string, byAlias: Map<string, CertificateFile[]>, r: Reporter): TargetConfig {
  const { defaults } = input.document;
  const api = input.document.apis[i]!;
  const url = new URL(jwt.jwks);
  const alias = jwt.certificate;
  const found = alias !== undefined ? byAlias.get(alias) : undefined;
  if (alias !== undefined && found && found.length > 1) {
    r.error('CONFIG_ALIAS', `${pointer}/certificate`, `alias "${alias}" is ambiguous: ${found.map((f) => relativeToConfig(input, f.path)).join(' and ')} both carry it; keep one`);
  }
  const pending = alias !== undefined && !found && !input.certificates.files.some((f) => f.alias === alias);
  if (pending && input.certificates.error === undefined) {
    r.warning('CERT_PENDING', `${pointer}/certificate`, `no file for certificate alias "${alias}" in ${relativeToConfig(input, input.certsDirectory)}/ yet: the JWKS at ${jwt.jwks} is not fetched (tokens answer 503 JWKS_UNAVAILABLE) until it appears`, 'key');
  }
  const protocols = defaults.tls.protocols;
  return {
    role: 'production',
    path: r.path(pointer),
    pointer: `${pointer}/jwks`,
    api: { name: api.name, version: api.version },
    name: `${api.name} ${api.version} jwks`,
    description: `the JWKS of API "${api.name}" version ${api.version} (${jwt.jwks})`,
    index: 0,
    weight: 1,
    url: jwt.jwks,
    protocol: 'https:',
    hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: Number(url.port) || 443,
    origin: url.origin,
    basePath: url.pathname + url.search,
    certificateAliases: alias !== undefined ? [alias] : [],
    certificates: found?.length === 1 ? [found[0]!] : [],
    pendingAliases: pending ? [alias] : [],
    tls: { protocols, ...versionRange(protocols), ...(defaults.tls.ciphers !== undefined ? { ciphers: defaults.tls.ciphers } : {}), hostnameVerifier: defaults.tls.hostnameVerifier, trustSystemCAs: alias === undefined },
    timeouts: { connectMs: parseDuration(defaults.timeouts.connect)!, socketMs: parseDuration(defaults.timeouts.socket)! },
    headers: { removeAuthorization: true, forwarded: false, preserveHost: false },
  };
}

function jwksTargetsOf(apis: readonly ApiConfig[]): TargetConfig[] {
  const jwks = apis.map((api) => api.security?.jwt?.jwks);
  return jwks.flatMap((source) => (source?.kind === 'url' ? [source.target] : []));
}

/** The API's JWKS, if it has one, is what it was when compiled: the same file bytes, or the same certificate for its URL. */
function sameJwks(api: ApiConfig, files: ReadonlyMap<string, JwksFile> | undefined, byAlias: ReadonlyMap<string, readonly CertificateFile[]>): boolean {
  const jwks = api.security?.jwt?.jwks;
  if (!jwks) return true;
  if (jwks.kind === 'url') return sameFiles(jwks.target, byAlias);
  return files?.get(jwks.file)?.sha256 === jwks.sha256;
}

/** resources: as listed, or the definition's (load.ts read it; when it could not, the reporter holds why and the load fails). */
function compileResources(input: CompileInput, i: number): Pick<ApiConfig, 'resources' | 'resourcesFrom'> {
  const api = input.document.apis[i]!;
  if (!api.resources) return {};
  if (Array.isArray(api.resources)) return { resources: api.resources.map((res) => ({ path: res.path, methods: [...res.methods] })) };
  const definition = input.openApiFiles?.get(path.resolve(path.dirname(input.file), api.resources.openapi));
  return definition ? { resources: definition.resources, resourcesFrom: definition } : { resources: [] };
}

/** The API's definition, if it has one, is what it was when compiled. */
function sameDefinition(api: ApiConfig, files: ReadonlyMap<string, OpenApiDefinition> | undefined): boolean {
  return !api.resourcesFrom || files?.get(api.resourcesFrom.file) === api.resourcesFrom;
}

/** A limit as the stores count it (rules.ts checked that `per` is whole seconds). */
function compileRateLimit(limit: DocumentRateLimit): RateLimitConfig {
  return { requests: limit.requests, perMs: parseDuration(limit.per)! };
}

/**
 * A key for an API the configuration does not define opens nothing: said, so that a typo does not
 * go unseen. A key whose plan does not exist is refused: counting it without its plan would let it
 * through unlimited, and refusing its requests would break a caller for a typo.
 */
function checkKeyEntries(keys: KeysConfig, apis: readonly ApiConfig[], plans: readonly PlanConfig[], r: Reporter): void {
  const names = new Set(apis.map((api) => api.name));
  const secured = new Set(apis.filter((api) => api.security?.apiKey).map((api) => api.name));
  const planNames = plans.map((plan) => plan.name);
  for (const entry of keys.entries) {
    if (entry.plan !== undefined && !planNames.includes(entry.plan)) {
      const guess = closestWord(entry.plan, planNames);
      const known = planNames.length > 0 ? `plans defines ${planNames.map((n) => `"${n}"`).join(', ')}` : 'gateway.yaml defines no plans';
      r.fileDiagnostic(
        'error',
        'KEYS_FILE',
        keys.file,
        `key "${entry.name}" has the plan "${entry.plan}", and ${known}${guess ? ` (did you mean "${guess}"?)` : ''}: add the plan to gateway.yaml's plans, or remove plan from the entry (a key without a plan has only its APIs' own rateLimit, as WSO2's Unlimited tier)`,
        entry.line,
      );
    }
    for (const name of entry.apis) {
      if (!names.has(name)) {
        const guess = closestWord(name, [...names]);
        r.fileDiagnostic('warning', 'KEYS_FILE', keys.file, `key "${entry.name}" names the API "${name}", which the configuration does not define${guess ? ` (did you mean "${guess}"?)` : ''}: the key opens nothing there`, entry.line);
      } else if (!secured.has(name)) {
        r.fileDiagnostic('warning', 'KEYS_FILE', keys.file, `key "${entry.name}" names the API "${name}", which requires no key (no security.apiKey): anyone may call it`, entry.line);
      }
    }
  }
}


/** stdout, stderr and off are streams; anything else is a file, relative to the configuration file's folder. */
function compileAccessLog(input: Pick<CompileInput, 'file'>, destination: string): GatewayConfig['accessLog'] {
  if (destination === 'stdout' || destination === 'stderr' || destination === 'off') return { destination };
  return { destination: 'file', file: path.resolve(path.dirname(input.file), destination) };
}

/**
 * Paths inside messages are relative to the configuration file's folder, as paths in the
 * configuration are: the same text whichever folder `gatehouse` runs from.
 */
export function relativeToConfig(input: Pick<CompileInput, 'file'>, target: string): string {
  return path.relative(path.dirname(input.file), target) || '.';
}

/**
 * The APIs the last loads compiled, by their object in the validated document: a reload whose
 * configuration file did not change (a certificate dropped, the common case) gets the very same
 * document back (load.ts, DocumentCache), and an API whose certificate files are the same objects
 * as before (below) is then the same as before, diagnostics included. At 1,000 APIs that is most
 * of what such a reload computes; and the same object is known unchanged without comparing it.
 */
const compiledApis = new WeakMap<object, { readonly document: GatewayDocument; readonly api: ApiConfig; readonly diagnostics: readonly Diagnostic[] }>();

/** Each of the API's aliases has one file, the very one it had when compiled. */
function sameTrust(api: ApiConfig, byAlias: ReadonlyMap<string, readonly CertificateFile[]>): boolean {
  // A client certificate's files are read again by every load (they are a few): compiled again.
  const reusable = (target: TargetConfig) => sameFiles(target, byAlias) && target.clientCertificate === undefined;
  return api.production.targets.every(reusable) && (api.sandbox === undefined || api.sandbox.targets.every(reusable));
}

function sameFiles(target: TargetConfig, byAlias: ReadonlyMap<string, readonly CertificateFile[]>): boolean {
  return (
    target.certificates.length === target.certificateAliases.length &&
    target.certificates.every((file, k) => {
      const now = byAlias.get(target.certificateAliases[k]!);
      return now?.length === 1 && now[0] === file;
    })
  );
}

/** A file read again as the same bytes (certs/read.ts) under the same path is the same CertificateFile object. */
const compiledFiles = new WeakMap<Buffer, CertificateFile>();

interface CompiledFiles {
  readonly byAlias: Map<string, CertificateFile[]>;
  readonly failures: { alias: string; path: string; code: 'CERT_READ' | 'CERT_PARSE'; reason: string; line?: number }[];
  readonly withPrivateKey: string[];
}

function compileCertificateFiles(input: CompileInput): CompiledFiles {
  const byAlias = new Map<string, CertificateFile[]>();
  const failures: CompiledFiles['failures'] = [];
  const withPrivateKey: string[] = [];
  for (const file of input.certificates.files) {
    if (!file.bytes) {
      failures.push({ alias: file.alias, path: file.path, code: 'CERT_READ', reason: `cannot be read: ${file.error}` });
      continue;
    }
    const { sha256, parsed } = parseCertificateFile(file.bytes);
    if (!parsed.ok) {
      failures.push({ alias: file.alias, path: file.path, code: 'CERT_PARSE', reason: `not a usable certificate file: ${parsed.reason}`, ...(parsed.line ? { line: parsed.line } : {}) });
      continue;
    }
    if (parsed.hasPrivateKey) withPrivateKey.push(file.path);
    const list = byAlias.get(file.alias) ?? [];
    const before = compiledFiles.get(file.bytes);
    const compiled = before?.path === file.path && before.alias === file.alias ? before : { alias: file.alias, path: file.path, sha256, certificates: parsed.certificates };
    compiledFiles.set(file.bytes, compiled);
    list.push(compiled);
    byAlias.set(file.alias, list);
  }
  forgetUnusedCertificates();
  return { byAlias, failures, withPrivateKey };
}

function compileEndpoint(input: CompileInput, i: number, role: EndpointRole, byAlias: Map<string, CertificateFile[]>, r: Reporter): EndpointConfig {
  const doc = input.document;
  const api = doc.apis[i]!;
  const endpoint = api.endpoints[role]!;
  const pointer = endpointPointer(i, role);
  const name = `${api.name} ${api.version} ${role}`;
  const description = `API "${api.name}" version ${api.version}, ${role} endpoint`;
  const group = endpoint.targets !== undefined;
  const targets = endpointTargets(doc, i, role).map((ref) =>
    compileTarget(input, ref, group ? { name: `${name} target ${ref.index! + 1}`, description: `${description}, target ${ref.index! + 1}` } : { name, description }, byAlias, r),
  );
  const check = endpoint.healthCheck;
  return {
    role,
    path: r.path(pointer),
    pointer,
    api: { name: api.name, version: api.version },
    name,
    description,
    group,
    balance: endpoint.balance,
    targets,
    suspend: {
      initialMs: parseDuration(resolveSuspend(doc, i, role, 'initial').value)!,
      factor: Number(resolveSuspend(doc, i, role, 'factor').value),
      maxMs: parseDuration(resolveSuspend(doc, i, role, 'max').value)!,
    },
    ...(check ? { healthCheck: { path: check.path, intervalMs: parseDuration(check.interval)!, timeoutMs: parseDuration(check.timeout)! } } : {}),
  };
}

function compileTarget(
  input: CompileInput,
  ref: TargetRef,
  names: { readonly name: string; readonly description: string },
  byAlias: Map<string, CertificateFile[]>,
  r: Reporter,
): TargetConfig {
  const doc = input.document;
  const { pointer, apiIndex: i, role } = ref;
  const endpoint = targetOf(doc, ref);
  const setting = <T>(group: 'timeouts' | 'tls' | 'headers', key: string): T | undefined => resolveSetting<T>(doc, ref, group, key)?.value;
  const trust = certificateOf(doc, ref);

  const url = new URL(endpoint.url);
  const aliases = trust.aliases;
  const certificates: CertificateFile[] = [];
  const pendingAliases: string[] = [];
  aliases.forEach((alias, k) => {
    const aliasPointer = trust.list ? `${trust.pointer}/${k}` : trust.pointer;
    const found = byAlias.get(alias);
    if (!found) {
      if (!input.certificates.files.some((f) => f.alias === alias)) pendingAliases.push(alias);
      return;
    }
    if (found.length > 1) {
      r.error('CONFIG_ALIAS', aliasPointer, `alias "${alias}" is ambiguous: ${found.map((f) => relativeToConfig(input, f.path)).join(' and ')} both carry it; keep one`);
      return;
    }
    certificates.push(found[0]!);
  });
  const protocols = setting<TlsVersion[]>('tls', 'protocols')!;
  const explicitTrust = setting<boolean>('tls', 'trustSystemCAs');
  const ciphers = setting<string>('tls', 'ciphers');
  const serverName = setting<string>('tls', 'serverName');
  const api = doc.apis[i]!;
  const compiled: TargetConfig = {
    role,
    path: r.path(pointer),
    pointer,
    api: { name: api.name, version: api.version },
    ...names,
    index: ref.index ?? 0,
    weight: endpoint.weight ?? 1,
    url: endpoint.url,
    protocol: url.protocol as 'http:' | 'https:',
    hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
    origin: url.origin,
    basePath: url.pathname.replace(/\/+$/, ''),
    certificateAliases: aliases,
    certificates,
    pendingAliases,
    tls: {
      protocols,
      ...versionRange(protocols),
      ...(ciphers !== undefined ? { ciphers } : {}),
      hostnameVerifier: setting<HostnameVerifier>('tls', 'hostnameVerifier')!,
      ...(serverName !== undefined ? { serverName } : {}),
      // With a certificate of its own, an endpoint trusts the public roots only when told.
      trustSystemCAs: explicitTrust ?? aliases.length === 0,
    },
    timeouts: {
      connectMs: parseDuration(setting('timeouts', 'connect'))!,
      socketMs: parseDuration(setting('timeouts', 'socket'))!,
    },
    headers: {
      removeAuthorization: setting<boolean>('headers', 'removeAuthorization')!,
      forwarded: setting<boolean>('headers', 'forwarded')!,
      preserveHost: setting<boolean>('headers', 'preserveHost')!,
    },
  };
  // With no folder to read, CERT_DIRECTORY says it once for every endpoint.
  if (pendingAliases.length > 0 && input.certificates.error === undefined) {
    const all = pendingAliases.length === aliases.length;
    const known = [...byAlias.keys()].sort();
    const guess = misspeltAlias(compiled, known);
    r.warning(
      'CERT_PENDING',
      trust.pointer,
      `no file for certificate alias${pendingAliases.length > 1 ? 'es' : ''} ${pendingAliases.map((a) => `"${a}"`).join(', ')} in ${relativeToConfig(input, input.certsDirectory)}/ yet${guess ? `; did you mean "${guess}"?` : ''} (has: ${known.length ? known.join(', ') : 'nothing'}); ${
        all
          ? ref.index === undefined
            ? 'this endpoint answers 503 CERTIFICATE_PENDING until one appears'
            : 'this target is left out of its group until one appears'
          : `this ${ref.index === undefined ? 'endpoint' : 'target'} trusts the other aliases until it appears`
      }`,
      'key',
    );
  }

  const problem = hostnameProblem(compiled);
  if (problem) r.warning('CERT_HOSTNAME', trust.pointer, problem, 'key');
  const client = clientCertificateOf(doc, ref);
  if (!client || compiled.protocol !== 'https:') return compiled;
  const passphrase = setting<string>('tls', 'clientCertificatePassphrase');
  return { ...compiled, clientCertificate: compileClientCertificate(input, client, passphrase, ref, r) };
}

/** The pair a target presents (SPEC §9): checked as the listener's own is (certs/key-pair.ts). */
function compileClientCertificate(
  input: CompileInput,
  client: { readonly alias: string; readonly pointer: string },
  passphrase: string | undefined,
  ref: TargetRef,
  r: Reporter,
): ClientCertificate {
  const { alias, pointer } = client;
  const files = input.clientFiles?.get(alias);
  const show = (p: string) => relativeToConfig(input, p);
  const owner = { whose: `client certificate "${alias}"'s`, passphraseKey: 'tls.clientCertificatePassphrase' };
  const base = { alias, ...(passphrase !== undefined ? { passphrase } : {}) };
  if (!files || files.kind === 'missing') {
    if (input.certificates.error === undefined) {
      r.warning(
        'CERT_PENDING',
        pointer,
        `no ${alias}.crt + ${alias}.key, nor ${alias}.p12 / ${alias}.pfx, in ${relativeToConfig(input, input.certsDirectory)}/ yet (the client certificate presented to the backend); ${
          ref.index === undefined ? 'this endpoint answers 503 CERTIFICATE_PENDING' : 'this target is left out of its group'
        } until they appear`,
        'key',
      );
    }
    return { ...base, credentials: undefined };
  }
  const exposed = checkKeyPermissions(files, show, owner);
  if (exposed) r.fileDiagnostic('warning', 'CERT_KEY_PERMISSIONS', exposed.path, exposed.message);
  const checked = checkKeyPairFiles(files, passphrase, show, owner);
  if (!checked.ok) {
    r.error('CLIENT_CERTIFICATE', pointer, `client certificate "${alias}": ${checked.reason}`);
    return { ...base, credentials: undefined };
  }
  ownCertificateExpiry(checked.credentials, pointer, `client certificate "${alias}"`, 'backends will refuse it (502 BACKEND_TLS_CLIENT_CERTIFICATE)', input, r);
  return { ...base, credentials: checked.credentials };
}

/** CERT_EXPIRED / CERT_EXPIRING of a certificate the gateway presents: its own leaf, the first of its file. */
function ownCertificateExpiry(credentials: KeyPairCredentials, pointer: string, name: string, consequence: string, input: CompileInput, r: Reporter): void {
  const warnBeforeMs = parseDuration(input.document.certs.warnBefore)!;
  for (const info of credentials.certificates.slice(0, 1)) {
    const state = expiryState(info, input.nowMs, warnBeforeMs);
    if (state.state === 'expired') {
      r.warning('CERT_EXPIRED', pointer, `${name} "${certificateLabel(info)}" expired on ${info.notAfter}: ${consequence}; renew it`);
    } else if (state.state === 'expiring') {
      r.warning('CERT_EXPIRING', pointer, `${name} "${certificateLabel(info)}" expires on ${info.notAfter} (in ${plural(state.daysLeft, 'day')}); renew it`);
    }
  }
}

function compileHttpsListener(input: CompileInput, r: Reporter): HttpsListenerConfig | undefined {
  const https = input.document.listen.https;
  if (!https || !input.listenerFiles) return undefined;
  const exposed = checkKeyPermissions(input.listenerFiles, (p) => relativeToConfig(input, p));
  if (exposed) r.fileDiagnostic('warning', 'CERT_KEY_PERMISSIONS', exposed.path, exposed.message);
  const checked = checkKeyPairFiles(input.listenerFiles, https.passphrase, (p) => relativeToConfig(input, p));
  if (!checked.ok) {
    r.error('LISTENER_CERTIFICATE', '/listen/https/certificate', `the gateway's own certificate "${https.certificate}": ${checked.reason}`);
    return undefined;
  }
  ownCertificateExpiry(checked.credentials, '/listen/https/certificate', "the gateway's own certificate", 'clients will refuse it', input, r);
  return {
    address: parseAddress(https.address)!,
    certificate: https.certificate,
    ...(https.passphrase !== undefined ? { passphrase: https.passphrase } : {}),
    protocols: https.protocols,
    ...versionRange(https.protocols),
    ...(https.ciphers !== undefined ? { ciphers: https.ciphers } : {}),
    credentials: checked.credentials,
  };
}

/**
 * The revision: the configuration's bytes plus every certificate file it uses. Two loads with
 * the same revision serve the same thing, so a reload can skip one that changes nothing.
 * Hashed from the bytes, not the expanded document: a hash shown in /status must not be a way to
 * guess a secret that came from the environment.
 */
function revisionOf(input: CompileInput, endpoints: readonly TargetConfig[], https: HttpsListenerConfig | undefined): string {
  const hash = createHash('sha256').update(input.configSha256);
  const used = new Map<string, string>();
  for (const endpoint of endpoints) {
    for (const file of endpoint.certificates) used.set(file.alias, file.sha256);
    for (const alias of endpoint.pendingAliases) used.set(alias, 'pending');
  }
  for (const [alias, sha] of [...used].sort(([a], [b]) => (a < b ? -1 : 1))) hash.update(`\0${alias}\0${sha}`);
  const pairs = new Map<string, KeyPairCredentials | undefined>();
  for (const endpoint of endpoints) if (endpoint.clientCertificate) pairs.set(endpoint.clientCertificate.alias, endpoint.clientCertificate.credentials);
  for (const [alias, credentials] of [...pairs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    hash.update(`\0client\0${alias}`);
    for (const b of credentials ? keyPairBytes(credentials) : []) hash.update('\0').update(createHash('sha256').update(b).digest('hex'));
  }
  if (https) for (const b of keyPairBytes(https.credentials)) hash.update('\0').update(createHash('sha256').update(b).digest('hex'));
  if (input.keys) hash.update(`\0keys\0${input.keys.sha256}`);
  for (const [file, jwks] of [...(input.jwksFiles ?? [])].sort(([a], [b]) => (a < b ? -1 : 1))) hash.update(`\0jwks\0${file}\0${jwks.sha256}`);
  for (const [file, definition] of [...(input.openApiFiles ?? [])].sort(([a], [b]) => (a < b ? -1 : 1))) hash.update(`\0openapi\0${file}\0${definition.sha256}`);
  return hash.digest('hex');
}
