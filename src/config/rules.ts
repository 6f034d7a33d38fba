// Cross-field rules (docs/configuration.md) that a JSON Schema cannot express. They run on a
// document that already matches the schema, so they can rely on its shape.
import { createSecureContext } from 'node:tls';
import { addressesOverlap, formatAddress, isLoopbackHost, parseAddress, parseProxyEntry } from './address.js';
import { isUnitless, parseDuration } from './durations.js';
import type { Reporter } from './reporter.js';
import { certificateOf, clientCertificateOf, documentEndpoints, documentTargets, endpointPointer, endpointTargets, isJwksUrl, resolveSetting, resolveSuspend, settingSections, targetOf } from './resolve.js';
import type { TargetRef } from './resolve.js';
import { valuesOf } from './schema.js';
import type { SchemaNode } from './schema.js';
import { aliasOf } from '../certs/read.js';
import { TLS_VERSIONS } from './tls.js';
import { childPointer } from './source-map.js';
import { parseStoreUrl } from './store-url.js';
import type { DocumentAddress, DocumentRateLimit, DocumentSecurity, GatewayDocument, ListenAddress, TlsVersion } from './types.js';

export function checkRules(doc: GatewayDocument, r: Reporter): void {
  checkAddresses(doc, r);
  checkDurations(doc, r);
  checkUnitlessDurations(doc, r);
  checkTlsSections(doc, r);
  checkApis(doc, r);
  checkEndpoints(doc, r);
  checkResources(doc, r);
  checkSecurity(doc, r);
  checkRateLimits(doc, r);
}

// ------------------------------------------------------------------ rate limits (SPEC §11)

/** Windows of whole seconds (limits/rules.ts says why), and a store that is memory or a Redis URL. */
function checkRateLimits(doc: GatewayDocument, r: Reporter): void {
  const limits: [string, DocumentRateLimit][] = [
    ...doc.apis.flatMap((api, i): [string, DocumentRateLimit][] => (api.rateLimit ? [[`/apis/${i}/rateLimit`, api.rateLimit]] : [])),
    ...Object.entries(doc.plans ?? {}).map(([name, plan]): [string, DocumentRateLimit] => [childPointer('/plans', name), plan]),
  ];
  for (const [pointer, limit] of limits) {
    const ms = parseDuration(limit.per);
    if (ms !== undefined && (ms < 1000 || ms % 1000 !== 0)) {
      // The nearest whole window, with the requests scaled to it: what was probably meant.
      const seconds = Math.max(1, Math.round(ms / 1000));
      const requests = Math.max(1, Math.round((limit.requests * seconds * 1000) / Math.max(ms, 1)));
      r.error(
        'CONFIG_INVALID_VALUE',
        `${pointer}/per`,
        `must be a whole number of seconds, at least 1s (got ${JSON.stringify(limit.per)}): limits are counted in windows of whole seconds (Redis expires its counters so); about the same rate is { requests: ${requests}, per: ${seconds}s }`,
      );
    }
  }
  const store = parseStoreUrl(doc.rateLimits.store);
  if ('problem' in store) r.error('CONFIG_URL', '/rateLimits/store', store.problem);
}

// ------------------------------------------------------------------ security (SPEC §11)

/** An API that requires a key needs keys to check it against; and the key's header is not the sandbox selector. */
function checkSecurity(doc: GatewayDocument, r: Reporter): void {
  const sandboxHeader = doc.routing.sandboxHeader.toLowerCase();
  const places: [string, DocumentSecurity | undefined][] = [['/defaults/security', doc.defaults.security], ...doc.apis.map((api, i): [string, DocumentSecurity | undefined] => [`/apis/${i}/security`, api.security])];
  for (const [pointer, security] of places) {
    if (security?.jwt) checkJwt(security, `${pointer}/jwt`, r);
    if (!security?.apiKey) continue;
    if (!doc.keys) r.error('CONFIG_MISSING_KEY', `${pointer}/apiKey`, 'an API key is required, and no keys file is given: add keys: { file: ./keys.yaml } (see docs/security.md; `gatehouse key new` makes the entries)', 'key');
    if (security.apiKey.header.toLowerCase() === sandboxHeader) r.error('CONFIG_INVALID_VALUE', `${pointer}/apiKey/header`, `the key's header is routing.sandboxHeader (${doc.routing.sandboxHeader}): choose another one`);
  }
}

/** A JWKS comes over https or from a file; its certificate is for a URL; a key and a token do not share a header. */
function checkJwt(security: DocumentSecurity, pointer: string, r: Reporter): void {
  const jwt = security.jwt!;
  if (isJwksUrl(jwt.jwks)) {
    let url: URL | undefined;
    try {
      url = new URL(jwt.jwks);
    } catch {
      r.error('CONFIG_URL', `${pointer}/jwks`, `must be an https:// URL like https://idp.example.com/oauth2/jwks, or a file (got ${JSON.stringify(jwt.jwks)})`);
    }
    if (url && url.protocol !== 'https:') {
      r.error('CONFIG_URL', `${pointer}/jwks`, `must be an https:// URL, or a file: keys fetched over ${url.protocol}// could be replaced on the way, and with them every token accepted (got ${JSON.stringify(jwt.jwks)})`);
    }
  } else if (jwt.certificate !== undefined) {
    r.error('CONFIG_INVALID_VALUE', `${pointer}/certificate`, `applies to an https:// jwks URL; ${JSON.stringify(jwt.jwks)} is a file, trusted as it is: remove certificate`, 'key');
  }
  if (security.apiKey?.header.toLowerCase() === 'authorization') {
    r.error('CONFIG_INVALID_VALUE', `${pointer.replace(/\/jwt$/, '')}/apiKey/header`, 'the key\'s header is Authorization, where the API\'s JWTs come (Authorization: Bearer): choose another one, like apikey');
  }
}

// ------------------------------------------------------------------ addresses

function checkAddresses(doc: GatewayDocument, r: Reporter): void {
  const listeners: [string, DocumentAddress][] = [['/listen/http', doc.listen.http]];
  if (doc.listen.https) listeners.push(['/listen/https/address', doc.listen.https.address]);
  listeners.push(['/admin/address', doc.admin.address]);
  const parsed: [string, ListenAddress][] = [];
  for (const [pointer, value] of listeners) {
    const address = parseAddress(value);
    if (!address) {
      r.error('CONFIG_ADDRESS', pointer, `port must be from 0 to 65535 (got ${JSON.stringify(value)})`);
      continue;
    }
    const clash = parsed.find(([, other]) => addressesOverlap(address, other));
    if (clash) {
      r.error(
        'CONFIG_ADDRESS',
        pointer,
        `${formatAddress(address)} is already used by ${r.path(clash[0])} (${r.where(clash[0])}); give each listener its own port`,
      );
    }
    parsed.push([pointer, address]);
  }
  doc.listen.trustedProxies.forEach((entry, i) => {
    const parsed = parseProxyEntry(entry);
    if ('error' in parsed) r.error('CONFIG_INVALID_VALUE', `/listen/trustedProxies/${i}`, parsed.error);
  });
  // /status and POST /reload would be open to the network: refuse, as Envoy's and Traefik's
  // guides warn, rather than serve an admin API anyone can reach.
  const admin = parseAddress(doc.admin.address);
  if (admin && !isLoopbackHost(admin.host) && !doc.admin.token) {
    r.error(
      'CONFIG_ADMIN_TOKEN',
      '/admin/address',
      `${formatAddress(admin)} is reachable from other machines, and admin.token is empty: set admin.token (for example token: \${GATEHOUSE_ADMIN_TOKEN}), or bind the admin address to 127.0.0.1`,
    );
  }
}

// ------------------------------------------------------------------ durations

function checkDurations(doc: GatewayDocument, r: Reporter): void {
  const headers = parseDuration(doc.listen.headersTimeout);
  const request = parseDuration(doc.listen.requestTimeout);
  if (headers === 0) r.error('CONFIG_TIMEOUTS', '/listen/headersTimeout', 'must be greater than zero (got 0); clients that never finish their headers would hold connections forever');
  if (headers !== undefined && request !== undefined && request !== 0 && headers > request) {
    r.error('CONFIG_TIMEOUTS', '/listen/headersTimeout', `is longer than listen.requestTimeout (${String(doc.listen.requestTimeout)}), which covers the headers too; shorten it or lengthen requestTimeout`);
  }
  if (parseDuration(doc.reload.interval) === 0) {
    r.error('CONFIG_TIMEOUTS', '/reload/interval', 'must be greater than zero (got 0); use a duration like "10s"');
  }
  if (parseDuration(doc.listen.shutdownTimeout) === 0) {
    r.error('CONFIG_TIMEOUTS', '/listen/shutdownTimeout', 'must be greater than zero (got 0); use a duration like "25s"');
  }
  for (const [section, pointer] of settingSections(doc, 'timeouts')) {
    for (const key of ['connect', 'socket']) {
      if (section[key] !== undefined && parseDuration(section[key]) === 0) {
        r.error('CONFIG_TIMEOUTS', `${pointer}/${key}`, `must be greater than zero (got ${JSON.stringify(section[key])}); a timeout cannot be disabled`);
      }
    }
  }
  const reported = new Set<string>();
  for (const ref of documentTargets(doc)) {
    const connect = resolveSetting<string | number>(doc, ref, 'timeouts', 'connect')!;
    const socket = resolveSetting<string | number>(doc, ref, 'timeouts', 'socket')!;
    const connectMs = parseDuration(connect.value)!;
    const socketMs = parseDuration(socket.value)!;
    if (connectMs > socketMs && socketMs > 0) {
      const key = `${connect.pointer}|${socket.pointer}`;
      if (reported.has(key)) continue;
      reported.add(key);
      // Point at the more specific of the two: that is the line that was just changed.
      const at = connect.pointer.length >= socket.pointer.length ? connect : socket;
      const other = at === connect ? socket : connect;
      r.error(
        'CONFIG_TIMEOUTS',
        at.pointer,
        `connect timeout ${JSON.stringify(connect.value)} is above the socket timeout ${JSON.stringify(socket.value)} for ${r.path(ref.pointer)} (the other is set at ${r.path(other.pointer)}); connect must not be above socket`,
      );
    }
  }
}

/**
 * `socket: 60` is 60 milliseconds: a number without a unit is read as milliseconds, and a
 * timeout that short is almost always seconds meant. Warned about (never refused: 500 may be
 * meant) for every duration the schema declares whose usual unit — that of its default, else of
 * its first example — is seconds or more; 0 (off, or at once) is never a slip.
 */
function checkUnitlessDurations(doc: GatewayDocument, r: Reporter): void {
  for (const { pointer, value, node } of valuesOf(doc, 'duration')) {
    if (!isUnitless(value)) continue;
    const ms = parseDuration(value);
    if (ms === undefined || ms === 0 || ms >= 1000) continue;
    const unit = usualUnit(node);
    if (unit === undefined || unit === 'ms') continue;
    const meant = unit === 'd' ? 'd' : 's';
    if (r.expanded.has(pointer)) {
      // From ${VAR}: the number is not quoted back (values from the environment never are).
      const written = r.sourceMap.text(pointer)?.trim().replace(/^(["'])(.*)\1$/s, '$2') ?? 'the variable';
      r.warning(
        'CONFIG_DURATION_UNITLESS',
        pointer,
        `${written} holds a number without a unit, read as milliseconds (less than a second); did you mean ${meant === 'd' ? 'days' : 'seconds'}? Give the unit in the value (like 30${meant}; 30ms to keep milliseconds)`,
      );
    } else {
      r.warning('CONFIG_DURATION_UNITLESS', pointer, `${ms} ms; did you mean ${ms}${meant}? (a number without a unit is milliseconds: write ${ms}ms if that is meant)`);
    }
  }
}

/** The largest unit of a duration's default, else of its first example with a unit ("10s" → s, "30d" → d). */
function usualUnit(node: SchemaNode): string | undefined {
  for (const written of [node.default, ...(node.examples ?? [])]) {
    if (typeof written !== 'string') continue;
    const unit = /^[0-9.]+(ms|s|m|h|d)/.exec(written)?.[1];
    if (unit) return unit;
  }
  return undefined;
}

// ------------------------------------------------------------------ TLS settings

function checkProtocols(protocols: readonly TlsVersion[], pointer: string, r: Reporter, listener: boolean): void {
  const indices = protocols.map((p) => TLS_VERSIONS.indexOf(p)).sort((a, b) => a - b);
  const first = indices[0]!;
  const last = indices[indices.length - 1]!;
  if (last - first + 1 !== indices.length) {
    const range = TLS_VERSIONS.slice(first, last + 1);
    r.error(
      'CONFIG_PROTOCOL_RANGE',
      pointer,
      `must be a contiguous range of TLS versions (got [${protocols.join(', ')}]; expected [${range.join(', ')}], or drop the versions outside a range)`,
    );
  }
  const legacy = protocols.filter((p) => p === 'TLSv1' || p === 'TLSv1.1');
  if (legacy.length > 0) {
    r.warning(
      'TLS_LEGACY_PROTOCOL',
      pointer,
      `${legacy.join(' and ')} ${legacy.length > 1 ? 'are' : 'is'} deprecated (RFC 8996); ${listener ? 'clients' : 'the gateway'} will use ${legacy.length > 1 ? 'them' : 'it'} with OpenSSL's security level lowered to 0 for ${listener ? 'this listener' : 'the endpoints using this setting'} only`,
    );
  }
}

function checkCiphers(ciphers: string, pointer: string, r: Reporter): void {
  try {
    createSecureContext({ ciphers });
  } catch {
    r.error('CONFIG_CIPHERS', pointer, `OpenSSL matches no cipher in ${JSON.stringify(ciphers)}; check it with \`openssl ciphers -v '${ciphers}'\``);
  }
}

function checkTlsSections(doc: GatewayDocument, r: Reporter): void {
  const https = doc.listen.https;
  if (https) {
    checkProtocols(https.protocols, '/listen/https/protocols', r, true);
    if (https.ciphers !== undefined) checkCiphers(https.ciphers, '/listen/https/ciphers', r);
  }
  for (const [section, pointer] of settingSections(doc, 'tls')) {
    if (Array.isArray(section.protocols)) checkProtocols(section.protocols as TlsVersion[], `${pointer}/protocols`, r, false);
    if (typeof section.ciphers === 'string') checkCiphers(section.ciphers, `${pointer}/ciphers`, r);
    if (section.hostnameVerifier === 'AllowAll') {
      r.warning(
        'TLS_ALLOW_ALL',
        `${pointer}/hostnameVerifier`,
        'AllowAll skips the hostname check: any certificate these endpoints trust is accepted for any host (the chain is still verified); prefer Strict with tls.serverName',
      );
    }
  }
}

// ------------------------------------------------------------------ APIs

function checkApis(doc: GatewayDocument, r: Reporter): void {
  const byNameVersion = new Map<string, number>();
  const byContextVersion = new Map<string, number>();
  const defaultByContext = new Map<string, number>();
  doc.apis.forEach((api, i) => {
    const nameKey = `${api.name}\0${api.version}`;
    const first = byNameVersion.get(nameKey);
    if (first !== undefined) {
      r.error(
        'CONFIG_DUPLICATE_API',
        `/apis/${i}/version`,
        `API "${api.name}" version "${api.version}" is already declared at ${r.where(`/apis/${first}`)} (apis[${first}]); give one of them another version`,
      );
    } else byNameVersion.set(nameKey, i);

    const routeKey = `${api.context}\0${api.version}`;
    const sameRoute = byContextVersion.get(routeKey);
    if (sameRoute !== undefined) {
      r.error(
        'CONFIG_DUPLICATE_ROUTE',
        `/apis/${i}/context`,
        `${api.context}/${api.version} is already the route of API "${doc.apis[sameRoute]!.name}" (apis[${sameRoute}], ${r.where(`/apis/${sameRoute}`)}); change the context or the version`,
      );
    } else byContextVersion.set(routeKey, i);

    if (api.default) {
      const other = defaultByContext.get(api.context);
      if (other !== undefined) {
        r.error(
          'CONFIG_DUPLICATE_DEFAULT',
          `/apis/${i}/default`,
          `context ${api.context} already has a default version: "${doc.apis[other]!.version}" (apis[${other}], ${r.where(`/apis/${other}/default`)}); keep default: true on one version`,
        );
      } else defaultByContext.set(api.context, i);
    }
  });

  // /pizza + version 1.0.0 routes /pizza/1.0.0/...; an API whose context is /pizza/1.0.0 (or
  // below it) would claim the same requests. Each context's prefixes are looked up among the
  // routes: linear in the number of APIs.
  const routes = new Map<string, number>();
  doc.apis.forEach((api, j) => routes.set(`${api.context}/${api.version}`, j));
  doc.apis.forEach((api, i) => {
    for (let end = api.context.length; end > 0; end = api.context.lastIndexOf('/', end - 1)) {
      const prefix = api.context.slice(0, end);
      const j = routes.get(prefix);
      if (j === undefined || j === i) continue;
      const other = doc.apis[j]!;
      r.error(
        'CONFIG_CONTEXT_SHADOW',
        `/apis/${i}/context`,
        `${api.context} lies under ${prefix}, the route of API "${other.name}" version "${other.version}" (apis[${j}]); the same requests would match both: choose another context`,
      );
      break;
    }
  });
}

// ------------------------------------------------------------------ endpoints

function checkEndpoints(doc: GatewayDocument, r: Reporter): void {
  for (const [i, role] of documentEndpoints(doc)) {
    const base = endpointPointer(i, role);
    const endpoint = doc.apis[i]!.endpoints[role]!;
    if (endpoint.url === undefined && endpoint.targets === undefined) {
      r.error('CONFIG_MISSING_KEY', base, 'needs url (one backend) or targets (a group of two or more)', 'key');
      continue;
    }
    if (endpoint.url !== undefined && endpoint.targets !== undefined) {
      r.error('CONFIG_INVALID_VALUE', `${base}/targets`, 'an endpoint has url or targets, not both: move the url into targets, or remove targets', 'key');
      continue;
    }
    if (endpoint.targets === undefined) {
      // A group's keys on a single url would silently do nothing.
      for (const key of ['suspend', 'healthCheck'] as const) {
        if (endpoint[key] !== undefined) r.error('CONFIG_INVALID_VALUE', `${base}/${key}`, `applies to the targets of a group; a single url is never suspended (write targets: [...] to make a group)`, 'key');
      }
    } else {
      const seen = new Map<string, number>();
      endpoint.targets.forEach((target, k) => {
        const earlier = seen.get(target.url);
        if (earlier !== undefined) {
          r.error('CONFIG_INVALID_VALUE', `${base}/targets/${k}/url`, `is the same URL as ${r.path(`${base}/targets/${earlier}`)}: give it a weight instead of listing it twice`);
        }
        seen.set(target.url, k);
      });
      if (endpoint.healthCheck) {
        const interval = parseDuration(endpoint.healthCheck.interval);
        const timeout = parseDuration(endpoint.healthCheck.timeout);
        if (interval === 0) r.error('CONFIG_TIMEOUTS', `${base}/healthCheck/interval`, 'must be greater than zero; remove healthCheck to turn the checks off');
        if (timeout === 0) r.error('CONFIG_TIMEOUTS', `${base}/healthCheck/timeout`, 'must be greater than zero');
        if (interval !== undefined && timeout !== undefined && interval > 0 && timeout > interval) {
          r.error('CONFIG_TIMEOUTS', `${base}/healthCheck/timeout`, `is longer than the interval (${String(endpoint.healthCheck.interval)}): a check would still be waiting when the next one starts`);
        }
      }
      const initial = resolveSuspend(doc, i, role, 'initial');
      const max = resolveSuspend(doc, i, role, 'max');
      if (parseDuration(initial.value)! > parseDuration(max.value)!) {
        r.error('CONFIG_TIMEOUTS', initial.pointer, `the first suspension (${String(initial.value)}) is longer than the longest (${String(max.value)}, ${r.path(max.pointer)})`);
      }
    }
    for (const ref of endpointTargets(doc, i, role)) checkTarget(doc, ref, r);
  }
}

function checkTarget(doc: GatewayDocument, ref: TargetRef, r: Reporter): void {
  const target = targetOf(doc, ref);
  const url = checkUrl(target.url, `${ref.pointer}/url`, r);
  const trust = certificateOf(doc, ref);
  const aliases = trust.aliases;

  aliases.forEach((alias, k) => {
    const withExtension = aliasOf(alias);
    if (withExtension) {
      r.error(
        'CONFIG_ALIAS',
        trust.list ? `${trust.pointer}/${k}` : trust.pointer,
        `certificate aliases are written without extension: "${withExtension.alias}" finds ${withExtension.alias}${withExtension.extension} (got "${alias}")`,
      );
    }
  });

  if (url?.protocol === 'http:' && aliases.length > 0) {
    r.error(
      'CONFIG_CERT_ON_HTTP',
      trust.pointer,
      `${target.url} is plain http://, where no certificate is checked; use https:// or remove the certificate`,
      'key',
    );
  }
  const client = clientCertificateOf(doc, ref);
  if (url?.protocol === 'http:' && client) {
    r.error('CONFIG_CERT_ON_HTTP', client.pointer, `${target.url} is plain http://, where no client certificate can be presented; use https:// or remove clientCertificate`, 'key');
  }
  if (url?.protocol === 'https:' && aliases.length === 0) {
    const systemCAs = resolveSetting<boolean>(doc, ref, 'tls', 'trustSystemCAs');
    if (systemCAs?.value === false) {
      r.error(
        'CONFIG_NO_TRUST',
        ref.pointer,
        `has no certificate and trustSystemCAs is false (${r.path(systemCAs.pointer)}), so no backend certificate could ever be trusted; add certificate: <alias>`,
        'key',
      );
    }
  }
}

function checkUrl(value: string, pointer: string, r: Reporter): URL | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    r.error('CONFIG_URL', pointer, `must be an absolute http:// or https:// URL like https://backend.internal:9443/api (got ${JSON.stringify(value)})`);
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    r.error('CONFIG_URL', pointer, `must use http:// or https:// (got ${JSON.stringify(value)})`);
    return undefined;
  }
  if (!url.hostname) {
    r.error('CONFIG_URL', pointer, `has no host (got ${JSON.stringify(value)})`);
    return undefined;
  }
  if (url.username || url.password) {
    // Not quoted back: the URL holds a credential.
    r.error('CONFIG_URL', pointer, 'must not carry credentials (user:password@): they would end up in logs; send them as a header');
    return undefined;
  }
  if (url.search || url.hash || value.endsWith('?') || value.includes('#')) {
    r.error('CONFIG_URL', pointer, `must not have a query or a fragment (got ${JSON.stringify(value)}); the client's query string is passed on`);
    return undefined;
  }
  return url;
}

// ------------------------------------------------------------------ resources

const LITERAL_SEGMENT = /^(?:[A-Za-z0-9._~!$&'()+,;=:@-]|%[0-9A-Fa-f]{2})+$/;
const PARAMETER_SEGMENT = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** The problem with a resource path template, or undefined when it is well formed. */
export function templateProblem(template: string): string | undefined {
  if (template === '/' || template === '/*') return undefined;
  const segments = template.slice(1).split('/');
  const names = new Set<string>();
  for (let k = 0; k < segments.length; k++) {
    const segment = segments[k]!;
    if (segment === '') return 'has an empty segment (// or a trailing /)';
    if (segment === '*') {
      if (k !== segments.length - 1) return '* is allowed only as the last segment (/files/*)';
      continue;
    }
    const parameter = PARAMETER_SEGMENT.exec(segment);
    if (parameter) {
      if (names.has(parameter[1]!)) return `names the parameter {${parameter[1]}} twice`;
      names.add(parameter[1]!);
      continue;
    }
    if (segment === '.' || segment === '..') return `has a "${segment}" segment`;
    if (!LITERAL_SEGMENT.test(segment)) {
      return `segment "${segment}" is neither a literal (letters, digits, -._~ and %XX) nor a {parameter} nor *`;
    }
  }
  return undefined;
}

function checkResources(doc: GatewayDocument, r: Reporter): void {
  doc.apis.forEach((api, i) => {
    const seen = new Map<string, number>();
    (Array.isArray(api.resources) ? api.resources : []).forEach((resource, k) => {
      const pointer = `/apis/${i}/resources/${k}/path`;
      const problem = templateProblem(resource.path);
      if (problem) {
        r.error('CONFIG_RESOURCE', pointer, `${problem} (got ${JSON.stringify(resource.path)}; expected a template like /menu, /order/{orderId} or /files/*)`);
        return;
      }
      const shape = resource.path.replace(/\{[^}]*\}/g, '{}');
      for (const method of resource.methods) {
        const key = `${method} ${shape}`;
        const first = seen.get(key);
        if (first !== undefined) {
          r.error(
            'CONFIG_RESOURCE',
            pointer,
            `${method} ${resource.path} is already allowed by apis[${i}].resources[${first}] (${r.where(`/apis/${i}/resources/${first}`)}); list each path and method once`,
          );
        } else seen.set(key, k);
      }
    });
  });
}
