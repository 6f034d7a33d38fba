// GET /status: what the gateway serves, as JSON (docs/operations.md). Built from the configuration
// summary that reloads log and `gatehouse plan` compares (config/summary.ts), plus the runtime
// state: generation, when loaded, the last reload and the last rejection, each endpoint's state,
// days left of each certificate. Never a secret: the summary carries no token, passphrase or key,
// and messages quote values as written in the file, never as expanded from the environment.
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { formatDuration } from '../config/durations.js';
import { inventoryDigestOf, isGroupSummary, summarizeApi, summarizeCertificateFile } from '../config/summary.js';
import type { ApiSummary, CertificateFileSummary, ConfigSummary, EndpointSummary, GroupSummary, TargetSummary } from '../config/summary.js';
import { certificateUsers, targetsOf, isPending } from '../config/usage.js';
import { errorsAndWarnings } from '../diagnostics.js';
import type { Diagnostic } from '../diagnostics.js';
import type { ReloadOutcome } from '../reload/reloader.js';
import type { RemoteJwksState } from '../snapshot/jwks.js';
import type { ApiRuntime, EndpointRuntime, Snapshot } from '../snapshot/snapshot.js';
import { daysLeft } from '../time.js';
import { VERSION } from '../version.js';

export type LastReload = ReloadOutcome & { readonly at: Date };

/** A group's target as /status shows it: its settings and, in the process that serves, its state. */
export type TargetStatus = TargetSummary & {
  /**
   * available; suspended (until, reason, failures); pending-certificate: no file for any of its
   * aliases yet (left out of the group). With listen.workers above 1 each worker has its own
   * state: they are under workers[].suspendedTargets, and this says per-worker.
   */
  readonly state: 'available' | 'suspended' | 'pending-certificate' | 'per-worker';
  readonly until?: string;
  readonly reason?: string;
  readonly failures?: number;
};

export type EndpointStatus =
  /** A v1 url: ready, or pending-certificate: no file for any of its aliases yet (503 CERTIFICATE_PENDING). */
  | (TargetSummary & { readonly state: 'ready' | 'pending-certificate' })
  /** A group: ready when a target can take requests, else unavailable (503 NO_BACKEND_AVAILABLE) or pending-certificate (every target waits). */
  | (Omit<GroupSummary, 'targets'> & { readonly state: 'ready' | 'unavailable' | 'pending-certificate' | 'per-worker'; readonly targets: readonly TargetStatus[] });

export interface ApiStatus extends Omit<ApiSummary, 'endpoints'> {
  readonly endpoints: { readonly production: EndpointStatus; readonly sandbox?: EndpointStatus };
}

export interface CertificateFileStatus extends Omit<CertificateFileSummary, 'certificates'> {
  readonly certificates: readonly (CertificateFileSummary['certificates'][number] & { readonly daysLeft: number })[];
  /** `Shop 1.0 production`; empty for a file no endpoint references. */
  readonly usedBy: readonly string[];
}

export interface StatusDocument {
  /** The process serving: which pid to signal (SIGHUP reloads), which version and Node.js runs. */
  readonly gateway: { readonly pid: number; readonly version: string; readonly node: string; readonly uptimeSeconds: number };
  readonly revision: string;
  readonly inventoryDigest: string;
  readonly generation: number;
  readonly loadedAt: string;
  readonly configFile: string;
  /** The last reload, whatever its result; `unchanged` says the files on disk are what is served. */
  readonly lastReload: Record<string, unknown> | null;
  /** The last reload rejected, if any, even when later reloads went well: when and why. */
  readonly lastRejection: Record<string, unknown> | null;
  readonly apis: readonly ApiStatus[];
  readonly certificates: readonly CertificateFileStatus[];
  /** The JWT issuers' key sets (security.jwt.jwks): a URL's fetches (ok, stale: the last good set serves, unavailable), a file's keys. */
  readonly jwks: readonly JwksStatus[];
  /** Where rate limits are counted, and whether it answers; null when nothing is rate limited. */
  readonly rateLimits: RateLimitsStatus | null;
}

export interface RateLimitsStatus {
  /** memory: this process (its workers share one count); redis: every replica; the URL never has a password. */
  readonly store: { readonly kind: string; readonly url: string; readonly reachable: boolean; readonly since: string; readonly lastError?: { readonly message: string; readonly at: string } };
  readonly onStoreError: 'allow' | 'deny';
  readonly plans: readonly { readonly name: string; readonly requests: number; readonly per: string }[];
}

/** The store of the snapshot's rate limits as this process sees it (the primary's: it watches the workers' Redis). */
export function rateLimitsStatusOf(snapshot: Snapshot): RateLimitsStatus | null {
  const limits = snapshot.limits;
  if (!limits) return null;
  const state = limits.store.state();
  return {
    store: {
      kind: state.kind,
      url: state.url,
      reachable: state.reachable,
      since: state.since.toISOString(),
      ...(state.lastError ? { lastError: { message: state.lastError.message, at: state.lastError.at.toISOString() } } : {}),
    },
    onStoreError: limits.onStoreError,
    plans: snapshot.config.plans.map((plan) => ({ name: plan.name, requests: plan.requests, per: formatDuration(plan.perMs) })),
  };
}

export type JwksStatus = RemoteJwksState | { readonly file: string; readonly state: 'ok'; readonly keys: number };

/** The state of every key set the snapshot uses; a URL's as this process fetched it. */
export function jwksStatusOf(snapshot: Snapshot): JwksStatus[] {
  const out: JwksStatus[] = [];
  const files = new Set<string>();
  for (const api of snapshot.config.apis) {
    const source = api.security?.jwt?.jwks;
    if (source?.kind === 'file' && !files.has(source.file)) {
      files.add(source.file);
      out.push({ file: source.file, state: 'ok', keys: source.set.keys.length });
    }
  }
  for (const keys of snapshot.jwks.values()) if (keys.remote) out.push(keys.remote.state());
  return out;
}

export interface ReloadHistory {
  readonly last: LastReload | undefined;
  readonly lastRejected: LastReload | undefined;
}

/**
 * `liveTargets`: this process serves requests, so its groups' target states are the gateway's.
 * With workers, the primary's are not: each worker reports its own (workers[].suspendedTargets).
 */
export async function statusOf(snapshot: Snapshot, reloads: ReloadHistory, nowMs = Date.now(), liveTargets = true): Promise<StatusDocument> {
  const { config } = snapshot;
  const served = await servedApis(snapshot);
  const { inventoryDigest } = served;
  const apis = served.withGroups.length === 0 ? served.apis : withTargetStates(snapshot, served, nowMs, liveTargets);
  const certificates = await servedCertificates(snapshot, nowMs);
  const folder = path.dirname(config.file);
  const messages = (diagnostics: readonly Diagnostic[]) => errorsAndWarnings(diagnostics, folder);
  const { last, lastRejected } = reloads;
  return {
    gateway: { pid: process.pid, version: VERSION, node: process.version, uptimeSeconds: Math.round(process.uptime()) },
    revision: config.revision,
    inventoryDigest,
    generation: snapshot.generation,
    loadedAt: snapshot.loadedAt.toISOString(),
    configFile: config.file,
    lastReload: last
      ? {
          result: last.kind,
          at: last.at.toISOString(),
          reason: last.reason,
          durationMs: last.durationMs,
          ...(last.kind === 'applied' ? { generation: last.generation, revision: last.revision } : {}),
          ...(last.kind === 'unchanged' ? { files: 'the files match the configuration served' } : messages(last.diagnostics)),
        }
      : null,
    lastRejection:
      lastRejected?.kind === 'rejected'
        ? { at: lastRejected.at.toISOString(), reason: lastRejected.reason, ...messages(lastRejected.diagnostics), current: last?.kind === 'rejected' }
        : null,
    apis,
    certificates,
    jwks: jwksStatusOf(snapshot),
    rateLimits: rateLimitsStatusOf(snapshot),
  };
}

// What /status says of the APIs and certificates depends on the snapshot alone (and, for the
// days left, on the day): it is built once per snapshot, the days left at most once a minute,
// not on every call; and in slices, with requests served between them. At 5,000 APIs building it
// all at once held the serving thread about 50 ms.

/** Items summarized between two turns of the event loop (about 3 ms at 500). */
const SLICE = 500;

async function inSlices<T, R>(items: readonly T[], map: (item: T, index: number) => R): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i++) {
    if (i > 0 && i % SLICE === 0) await nextTurn();
    out.push(map(items[i]!, i));
  }
  return out;
}

interface ServedApis {
  readonly apis: readonly ApiStatus[];
  readonly inventoryDigest: string;
  /** The APIs with an endpoint group, by index, with their summary: their targets' states are read on each call. */
  readonly withGroups: readonly { readonly index: number; readonly summary: ApiSummary }[];
}

const apisOf = new WeakMap<Snapshot, Promise<ServedApis>>();

function servedApis(snapshot: Snapshot): Promise<ServedApis> {
  let served = apisOf.get(snapshot);
  if (!served) apisOf.set(snapshot, (served = summarizeApis(snapshot)));
  return served;
}

async function summarizeApis(snapshot: Snapshot): Promise<ServedApis> {
  const { config } = snapshot;
  const withGroups: { index: number; summary: ApiSummary }[] = [];
  const apis = await inSlices(config.apis, (compiled, index) => {
    const summary = summarizeApi(compiled);
    if (compiled.production.group || compiled.sandbox?.group) withGroups.push({ index, summary });
    return apiStatus(summary, snapshot.apis[index]!, Date.now(), true);
  });
  await nextTurn();
  return { apis, inventoryDigest: inventoryDigestOf(config.inventory), withGroups };
}

function withTargetStates(snapshot: Snapshot, served: ServedApis, nowMs: number, live: boolean): ApiStatus[] {
  const apis = [...served.apis];
  for (const { index, summary } of served.withGroups) apis[index] = apiStatus(summary, snapshot.apis[index]!, nowMs, live);
  return apis;
}

function apiStatus(summary: ApiSummary, runtime: ApiRuntime, nowMs: number, live: boolean): ApiStatus {
  const { production, sandbox } = summary.endpoints;
  return {
    ...summary,
    endpoints: {
      production: endpointStatus(production, runtime.production, nowMs, live),
      ...(sandbox && runtime.sandbox ? { sandbox: endpointStatus(sandbox, runtime.sandbox, nowMs, live) } : {}),
    },
  };
}

function endpointStatus(summary: EndpointSummary, runtime: EndpointRuntime, nowMs: number, live: boolean): EndpointStatus {
  if (!isGroupSummary(summary)) return { ...summary, state: isPending(runtime.targets[0]!.config) ? 'pending-certificate' : 'ready' };
  const states = runtime.group?.states(nowMs) ?? [];
  const targets = summary.targets.map((target, k): TargetStatus => {
    const known = states.find((s) => s.target === runtime.targets[k])?.state;
    if (!known) return { ...target, state: 'pending-certificate' };
    if (!live) return { ...target, state: 'per-worker' };
    return known.state === 'available'
      ? { ...target, state: 'available' }
      : { ...target, state: 'suspended', until: new Date(known.untilMs).toISOString(), reason: known.reason, failures: known.failures };
  });
  const state = !runtime.group ? 'pending-certificate' : !live ? 'per-worker' : targets.some((t) => t.state === 'available') ? 'ready' : 'unavailable';
  return { ...summary, state, targets };
}

const certificatesOf = new WeakMap<Snapshot, { readonly minute: number; readonly certificates: Promise<readonly CertificateFileStatus[]> }>();

function servedCertificates(snapshot: Snapshot, nowMs: number): Promise<readonly CertificateFileStatus[]> {
  const minute = Math.floor(nowMs / 60_000);
  let served = certificatesOf.get(snapshot);
  if (served?.minute !== minute) certificatesOf.set(snapshot, (served = { minute, certificates: summarizeCertificates(snapshot, nowMs) }));
  return served.certificates;
}

async function summarizeCertificates({ config }: Snapshot, nowMs: number): Promise<readonly CertificateFileStatus[]> {
  const users = certificateUsers(targetsOf(config));
  await nextTurn();
  return inSlices(config.inventory, (compiled) => {
    const file = summarizeCertificateFile(compiled);
    return {
      ...file,
      certificates: file.certificates.map((c) => ({ ...c, daysLeft: daysLeft(Date.parse(c.notAfter), nowMs) })),
      usedBy: (users.get(file.alias) ?? []).map((e) => e.name),
    };
  });
}

/** The configuration summary inside a /status document: what `gatehouse plan --against` compares. */
export function summaryOfStatus(status: StatusDocument): ConfigSummary {
  const target = ({ state: _state, until: _until, reason: _reason, failures: _failures, ...rest }: TargetStatus): TargetSummary => rest;
  const endpoint = (status: EndpointStatus): EndpointSummary => {
    if ('targets' in status) {
      const { state: _state, targets, ...rest } = status;
      return { ...rest, targets: targets.map(target) };
    }
    const { state: _state, ...rest } = status;
    return rest;
  };
  return {
    revision: status.revision,
    inventoryDigest: status.inventoryDigest,
    apis: status.apis.map((api) => ({
      ...api,
      endpoints: { production: endpoint(api.endpoints.production), ...(api.endpoints.sandbox ? { sandbox: endpoint(api.endpoints.sandbox) } : {}) },
    })),
    certificates: status.certificates.map(({ usedBy: _usedBy, ...file }) => ({ ...file, certificates: file.certificates.map(({ daysLeft: _daysLeft, ...c }) => c) })),
  };
}
