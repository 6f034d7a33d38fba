// GET /status: what the gateway serves, as JSON (docs/operations.md). Built from the configuration
// summary that reloads log and `gatehouse plan` compares (config/summary.ts), plus the runtime
// state: generation, when loaded, the last reload and the last rejection, each endpoint's state,
// days left of each certificate. Never a secret: the summary carries no token, passphrase or key,
// and messages quote values as written in the file, never as expanded from the environment.
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { inventoryDigestOf, summarizeApi, summarizeCertificateFile } from '../config/summary.js';
import type { ApiSummary, CertificateFileSummary, ConfigSummary, EndpointSummary } from '../config/summary.js';
import { certificateUsers, endpointsOf, isPending } from '../config/usage.js';
import type { EndpointConfig } from '../config/types.js';
import { errorsAndWarnings } from '../diagnostics.js';
import type { Diagnostic } from '../diagnostics.js';
import type { ReloadOutcome } from '../reload/reloader.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { daysLeft } from '../time.js';
import { VERSION } from '../version.js';

export type LastReload = ReloadOutcome & { readonly at: Date };

export interface EndpointStatus extends EndpointSummary {
  /** ready, or pending-certificate: no file for any of its aliases yet (503 CERTIFICATE_PENDING). */
  readonly state: 'ready' | 'pending-certificate';
}

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
}

export interface ReloadHistory {
  readonly last: LastReload | undefined;
  readonly lastRejected: LastReload | undefined;
}

export async function statusOf(snapshot: Snapshot, reloads: ReloadHistory, nowMs = Date.now()): Promise<StatusDocument> {
  const { config } = snapshot;
  const { apis, inventoryDigest } = await servedApis(snapshot);
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

const apisOf = new WeakMap<Snapshot, Promise<{ readonly apis: readonly ApiStatus[]; readonly inventoryDigest: string }>>();

function servedApis(snapshot: Snapshot): Promise<{ readonly apis: readonly ApiStatus[]; readonly inventoryDigest: string }> {
  let served = apisOf.get(snapshot);
  if (!served) apisOf.set(snapshot, (served = summarizeApis(snapshot)));
  return served;
}

async function summarizeApis({ config }: Snapshot): Promise<{ readonly apis: readonly ApiStatus[]; readonly inventoryDigest: string }> {
  const withState = (e: EndpointSummary, compiled: EndpointConfig): EndpointStatus => ({ ...e, state: isPending(compiled) ? 'pending-certificate' : 'ready' });
  const apis = await inSlices(config.apis, (compiled) => {
    const api = summarizeApi(compiled);
    return {
      ...api,
      endpoints: {
        production: withState(api.endpoints.production, compiled.production),
        ...(api.endpoints.sandbox && compiled.sandbox ? { sandbox: withState(api.endpoints.sandbox, compiled.sandbox) } : {}),
      },
    };
  });
  await nextTurn();
  return { apis, inventoryDigest: inventoryDigestOf(config.inventory) };
}

const certificatesOf = new WeakMap<Snapshot, { readonly minute: number; readonly certificates: Promise<readonly CertificateFileStatus[]> }>();

function servedCertificates(snapshot: Snapshot, nowMs: number): Promise<readonly CertificateFileStatus[]> {
  const minute = Math.floor(nowMs / 60_000);
  let served = certificatesOf.get(snapshot);
  if (served?.minute !== minute) certificatesOf.set(snapshot, (served = { minute, certificates: summarizeCertificates(snapshot, nowMs) }));
  return served.certificates;
}

async function summarizeCertificates({ config }: Snapshot, nowMs: number): Promise<readonly CertificateFileStatus[]> {
  const users = certificateUsers(endpointsOf(config));
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
  const endpoint = ({ state: _state, ...rest }: EndpointStatus): EndpointSummary => rest;
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
