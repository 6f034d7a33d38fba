// GET /status: what the gateway serves, as JSON (docs/operations.md). Built from the configuration
// summary that reloads log and `gatehouse plan` compares (config/summary.ts), plus the runtime
// state: generation, when loaded, the last reload and the last rejection, each endpoint's state,
// days left of each certificate. Never a secret: the summary carries no token, passphrase or key,
// and messages quote values as written in the file, never as expanded from the environment.
import path from 'node:path';
import { summarizeConfig } from '../config/summary.js';
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

export function statusOf(snapshot: Snapshot, reloads: ReloadHistory, nowMs = Date.now()): StatusDocument {
  const { config } = snapshot;
  const summary = summarizeConfig(config);
  const folder = path.dirname(config.file);
  const users = certificateUsers(endpointsOf(config));
  const withState = (e: EndpointSummary, compiled: EndpointConfig): EndpointStatus => ({ ...e, state: isPending(compiled) ? 'pending-certificate' : 'ready' });
  const messages = (diagnostics: readonly Diagnostic[]) => errorsAndWarnings(diagnostics, folder);
  const { last, lastRejected } = reloads;
  return {
    gateway: { pid: process.pid, version: VERSION, node: process.version, uptimeSeconds: Math.round(process.uptime()) },
    revision: summary.revision,
    inventoryDigest: summary.inventoryDigest,
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
    apis: summary.apis.map((api, i) => {
      const compiled = config.apis[i]!;
      return {
        ...api,
        endpoints: {
          production: withState(api.endpoints.production, compiled.production),
          ...(api.endpoints.sandbox && compiled.sandbox ? { sandbox: withState(api.endpoints.sandbox, compiled.sandbox) } : {}),
        },
      };
    }),
    certificates: summary.certificates.map((file) => ({
      ...file,
      certificates: file.certificates.map((c) => ({ ...c, daysLeft: daysLeft(Date.parse(c.notAfter), nowMs) })),
      usedBy: (users.get(file.alias) ?? []).map((e) => e.name),
    })),
  };
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
