// A snapshot: everything a request needs, built once per configuration and never changed: the
// routes, and for every endpoint its pool of backend connections. A request reads the current
// snapshot once and uses it to the end; a reload builds a new snapshot beside the old one.
//
// Each target's pool (an endpoint's url, or each target of a group) is keyed by everything that shapes its connections (origin, TLS settings,
// trusted certificate fingerprints, timeouts). Opening a snapshot reuses the previous snapshot's
// pool for every unchanged key: no new handshakes for endpoints a reload did not touch.
import { createHash } from 'node:crypto';
import type { BlockList } from 'node:net';
import { Pool } from 'undici';
import { backendConnector } from '../backend/tls.js';
import { keyPairBytes } from '../certs/key-pair.js';
import { TargetGroup } from '../backend/targets.js';
import { KeyRing } from '../config/keys.js';
import type { ApiConfig, EndpointConfig, GatewayConfig, JwksSource, JwtConfig, TargetConfig } from '../config/types.js';
import { VerifiedTokens, jwksKeyOf, openJwks } from './jwks.js';
import type { JwksKeys } from './jwks.js';
import { isPending } from '../config/usage.js';
import { LimitStores, apiLimitsOf, usesLimits } from './limits.js';
import type { ApiLimits, SnapshotLimits } from './limits.js';
import { ResourceTable } from './resources.js';
import { Router } from './routes.js';
import { trustedProxyList } from './trusted-proxies.js';

/** Idle keep-alive connections to a backend are closed after this (undici's default is 4 s). */
const BACKEND_KEEP_ALIVE_MS = 4_000;

/** One backend URL of an endpoint, with its connections: a v1 endpoint's url, or a group's target. */
export interface TargetRuntime {
  readonly config: TargetConfig;
  readonly poolKey: string;
  /** Absent when no certificate alias of the target has a file yet (CERTIFICATE_PENDING, or left out of its group). */
  readonly pool: Pool | undefined;
  /** The Host header sent unless headers.preserveHost: the URL's host[:port]. */
  readonly hostHeader: string;
  /**
   * What the header rules need of the target (proxy/headers.ts): its settings, hostHeader, the
   * lower-cased routing.sandboxHeader, and the lower-cased header of its API's key ('' for an
   * open API): both are the gateway's own, never forwarded.
   */
  readonly headerPlan: { readonly headers: TargetConfig['headers']; readonly hostHeader: string; readonly sandboxHeader: string; readonly credentialHeader: string };
  /** A place for the request observer's per-target state (the metrics' series of a group's target). */
  readonly observerSlot: { value: unknown };
}

export interface EndpointRuntime {
  readonly config: EndpointConfig;
  readonly apiConfig: ApiConfig;
  readonly targets: readonly TargetRuntime[];
  /**
   * Which target serves a request, for a group whose targets (with a certificate) are ready;
   * undefined for a v1 url (its one target, never suspended) and for a group none of whose
   * targets has its certificate yet.
   */
  readonly group: TargetGroup<TargetRuntime> | undefined;
  /** The endpoint's names in access log lines, serialized once (see labelsOf). */
  readonly logLabels: string;
  /** A place for the request observer's own per-endpoint state (the metrics' series), so that it is not looked up per request. */
  readonly observerSlot: { value: unknown };
}

export interface ApiRuntime {
  readonly config: ApiConfig;
  readonly production: EndpointRuntime;
  readonly sandbox: EndpointRuntime | undefined;
  readonly resources: ResourceTable | undefined;
  /** security.jwt, with the keys its tokens are verified with, and the tokens verified (of this configuration). */
  readonly jwt: { readonly config: JwtConfig; readonly keys: JwksKeys; readonly verified: VerifiedTokens<VerifiedToken> } | undefined;
  /** The rate-limit rules its requests are counted against; undefined when nothing limits it. */
  readonly limits: ApiLimits | undefined;
}

export interface Snapshot {
  readonly generation: number;
  readonly config: GatewayConfig;
  readonly router: Router<ApiRuntime>;
  readonly apis: readonly ApiRuntime[];
  /** Every pool this snapshot uses, by key. */
  readonly pools: ReadonlyMap<string, Pool>;
  /** Every endpoint by its name (`Shop 1.0 production`): a retry finds the endpoint of the snapshot served now. */
  readonly endpoints: ReadonlyMap<string, EndpointRuntime>;
  readonly loadedAt: Date;
  /** The routing.sandboxHeader, lower-cased as Node presents request headers. */
  readonly sandboxHeader: string;
  /** listen.trustedProxies, or undefined when nobody is trusted. */
  readonly trustedProxies: BlockList | undefined;
  /** The keys of keys.file, or undefined without one (SPEC §11). */
  readonly keyRing: KeyRing | undefined;
  /** The JWT issuers' key sets, by source (jwksKeyOf): one per file or URL, whatever number of APIs use it. */
  readonly jwks: ReadonlyMap<string, JwksKeys>;
  /** The store rate limits are counted in, when the configuration limits anything. */
  readonly limits: SnapshotLimits | undefined;
  /** The process's stores: the next snapshot takes its store from them. */
  readonly limitStores: LimitStores;
}

/** A token that verified, as the proxy needs it again: who it names, its type, and its times (seconds) to check again. */
export interface VerifiedToken {
  readonly caller: { readonly jwt: { readonly iss: string | undefined; readonly sub: string | undefined }; readonly subject: string | undefined };
  /** The verdict its type reached: the endpoint, or a refusal (a sandbox token where there is no sandbox). */
  readonly verdict: unknown;
  readonly exp: number;
  readonly nbf: number | undefined;
}

/** The JSON fragment that names an endpoint in access lines; built once per snapshot. */
export function labelsOf(api: string, version: string, endpoint: string): string {
  return `"api":${JSON.stringify(api)},"version":${JSON.stringify(version)},"endpoint":${JSON.stringify(endpoint)}`;
}

/** Everything that shapes an endpoint's connections; equal keys can share a pool across snapshots. */
export function poolKeyOf(endpoint: TargetConfig): string {
  const { tls, timeouts } = endpoint;
  return createHash('sha256')
    .update(
      JSON.stringify([
        endpoint.origin,
        tls.protocols,
        tls.ciphers ?? null,
        tls.hostnameVerifier,
        tls.serverName ?? null,
        tls.trustSystemCAs,
        endpoint.certificates.map((file) => file.certificates.map((c) => c.fingerprint256)),
        timeouts.connectMs,
        timeouts.socketMs,
        // A renewed client pair is a new pool: new connections present it, those in flight finish on the old one.
        endpoint.clientCertificate?.credentials ? keyPairBytes(endpoint.clientCertificate.credentials).map((b) => createHash('sha256').update(b).digest('hex')) : null,
      ]),
    )
    .digest('hex');
}

export function openPool(endpoint: TargetConfig): Pool {
  return new Pool(endpoint.origin, {
    connect: backendConnector(endpoint),
    headersTimeout: endpoint.timeouts.socketMs,
    bodyTimeout: endpoint.timeouts.socketMs,
    keepAliveTimeout: BACKEND_KEEP_ALIVE_MS,
    pipelining: 1,
  });
}

/**
 * Builds the snapshot of `config`. Pools come from `previous` when their key is unchanged, else
 * are opened (opening a pool makes no connection yet); so do a jwks URL's key set and the
 * rate-limit store (from `stores`, the process's, which the snapshots after this one inherit).
 */
export function openSnapshot(config: GatewayConfig, generation: number, previous?: Snapshot, stores: LimitStores = previous?.limitStores ?? new LimitStores('single')): Snapshot {
  const pools = new Map<string, Pool>();
  const poolFor = (endpoint: TargetConfig, key: string): Pool | undefined => {
    if (isPending(endpoint)) return undefined;
    let pool = pools.get(key) ?? previous?.pools.get(key);
    if (!pool || pool.closed || pool.destroyed) pool = openPool(endpoint);
    pools.set(key, pool);
    return pool;
  };

  const endpoints = new Map<string, EndpointRuntime>();
  const sandboxHeader = config.routing.sandboxHeader.toLowerCase();
  // An API whose configuration is the previous snapshot's own object (a reload shares what did
  // not change: see config/delta.ts) keeps its runtime, suspensions included, so that a reload
  // costs what changed.
  const kept = previous && previous.sandboxHeader === sandboxHeader && samePlans(previous.config, config) ? new Map(previous.apis.map((api) => [api.config, api])) : undefined;
  const register = (runtime: EndpointRuntime): EndpointRuntime => {
    endpoints.set(runtime.config.name, runtime);
    for (const target of runtime.targets) if (target.pool) pools.set(target.poolKey, target.pool);
    return runtime;
  };
  // A key set is opened once per source, and kept across snapshots while its source is the same
  // (the same file bytes; the same URL reached the same way, whose fetches go on).
  const jwks = new Map<string, JwksKeys>();
  const keysOf = (source: JwksSource): JwksKeys => {
    const key = jwksKeyOf(source);
    let keys = jwks.get(key) ?? previous?.jwks.get(key);
    keys ??= openJwks(source);
    jwks.set(key, keys);
    return keys;
  };
  const usable = (runtime: EndpointRuntime | undefined) => !runtime || runtime.targets.every((t) => !t.pool || !(t.pool.closed || t.pool.destroyed));
  const apis = config.apis.map((apiConfig): ApiRuntime => {
    const reused = kept?.get(apiConfig);
    if (reused && usable(reused.production) && usable(reused.sandbox)) {
      register(reused.production);
      if (reused.sandbox) register(reused.sandbox);
      if (reused.jwt) jwks.set(jwksKeyOf(reused.jwt.config.jwks), reused.jwt.keys);
      return reused;
    }
    const jwt = apiConfig.security?.jwt;
    // The credentials are the gateway's: the key's header, and a JWT API's Authorization, never reach the backend.
    const credentialHeader = apiConfig.security?.apiKey?.header ?? '';
    const target = (targetConfig: TargetConfig): TargetRuntime => {
      const poolKey = poolKeyOf(targetConfig);
      const hostHeader = new URL(targetConfig.url).host;
      return {
        config: targetConfig,
        poolKey,
        pool: poolFor(targetConfig, poolKey),
        hostHeader,
        headerPlan: { headers: jwt ? { ...targetConfig.headers, removeAuthorization: true } : targetConfig.headers, hostHeader, sandboxHeader, credentialHeader },
        observerSlot: { value: undefined },
      };
    };
    const endpoint = (endpointConfig: EndpointConfig): EndpointRuntime => {
      const targets = endpointConfig.targets.map(target);
      const ready = targets.filter((t) => t.pool);
      const group = endpointConfig.group && ready.length > 0 ? new TargetGroup(ready.map((t) => ({ target: t, weight: t.config.weight })), endpointConfig.balance, endpointConfig.suspend) : undefined;
      // A target whose connections are unchanged keeps its suspension across the reload.
      const before = previous?.endpoints.get(endpointConfig.name)?.group;
      if (group && before) group.carryOver(before, (mine, theirs) => mine.poolKey === theirs.poolKey);
      return register({
        config: endpointConfig,
        apiConfig,
        targets,
        group,
        logLabels: labelsOf(apiConfig.name, apiConfig.version, endpointConfig.role),
        observerSlot: { value: undefined },
      });
    };
    return {
      config: apiConfig,
      production: endpoint(apiConfig.production),
      sandbox: apiConfig.sandbox ? endpoint(apiConfig.sandbox) : undefined,
      resources: apiConfig.resources ? new ResourceTable(apiConfig.resources) : undefined,
      jwt: jwt ? { config: jwt, keys: keysOf(jwt.jwks), verified: new VerifiedTokens<VerifiedToken>() } : undefined,
      limits: apiLimitsOf(apiConfig, config.plans),
    };
  });
  const limits = usesLimits(config) ? { store: stores.open(config.rateLimits.store), onStoreError: config.rateLimits.onStoreError } : undefined;
  // The store checks the rules now (a rule it cannot count fails the snapshot, not a request) and
  // makes their counters: a worker's are introduced to the primary before a request waits on them.
  if (limits) for (const api of apis) if (api.limits) limits.store.prepare([...api.limits.own, ...[...api.limits.byPlan.values()].flat()]);

  return {
    generation,
    config,
    router: new Router(apis.map((api) => [api.config, api] as const)),
    apis,
    pools,
    endpoints,
    loadedAt: new Date(),
    sandboxHeader,
    trustedProxies: trustedProxyList(config.listen.trustedProxies),
    // Built once per keys file: a reload of anything else keeps the ring.
    keyRing: !config.keys ? undefined : previous?.keyRing && previous.config.keys?.sha256 === config.keys.sha256 ? previous.keyRing : new KeyRing(config.keys.entries),
    jwks,
    limits,
    limitStores: stores,
  };
}

/** The plans an API's rules were built with are the same (plans are few: compared whole). */
function samePlans(a: GatewayConfig, b: GatewayConfig): boolean {
  return a.plans === b.plans || JSON.stringify(a.plans) === JSON.stringify(b.plans);
}

/**
 * Closes the pools of `old` that `current` does not use: close() lets requests in flight finish;
 * after `deadlineMs`, destroy() ends those still running.
 */
export async function retireSnapshot(old: Snapshot, current: Snapshot | undefined, deadlineMs: number): Promise<void> {
  await closePools(old, current, deadlineMs);
  // Once its requests are over: a store no snapshot uses (another URL now, or the gateway stops).
  const store = old.limits?.store;
  if (store && current?.limits?.store !== store) await old.limitStores.release(store);
}

async function closePools(old: Snapshot, current: Snapshot | undefined, deadlineMs: number): Promise<void> {
  const retiring = [...old.pools].filter(([key, pool]) => current?.pools.get(key) !== pool).map(([, pool]) => pool);
  await Promise.all(
    retiring.map(async (pool) => {
      const timer = setTimeout(() => void pool.destroy().catch(() => undefined), deadlineMs);
      try {
        await pool.close();
      } catch {
        // Already destroyed at the deadline.
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}
