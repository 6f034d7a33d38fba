// GET /status: what the gateway serves, as JSON (SPEC §5). Built from the configuration summary
// that reloads log and `gatehouse plan` compares (config/summary.ts), plus the runtime state:
// generation, when loaded, the last reload's result, each endpoint's state, days left of each
// certificate. Never a secret: the summary carries no token, passphrase or key, and messages
// quote values as written in the file, never as expanded from the environment.
import path from 'node:path';
import { apiName } from '../config/diff.js';
import { summarizeConfig } from '../config/summary.js';
import type { ApiSummary, CertificateFileSummary, ConfigSummary, EndpointSummary } from '../config/summary.js';
import { toJson } from '../diagnostics.js';
import type { ReloadOutcome } from '../reload/reloader.js';
import type { Snapshot } from '../snapshot/snapshot.js';

const DAY_MS = 86_400_000;

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
  readonly revision: string;
  readonly inventoryDigest: string;
  readonly generation: number;
  readonly loadedAt: string;
  readonly configFile: string;
  readonly lastReload: Record<string, unknown> | null;
  readonly apis: readonly ApiStatus[];
  readonly certificates: readonly CertificateFileStatus[];
}

export function statusOf(snapshot: Snapshot, lastReload: LastReload | undefined, nowMs = Date.now()): StatusDocument {
  const { config } = snapshot;
  const summary = summarizeConfig(config);
  const folder = path.dirname(config.file);
  const usedBy = new Map<string, string[]>();
  for (const api of summary.apis) {
    for (const [role, endpoint] of Object.entries(api.endpoints)) {
      for (const alias of endpoint?.certificates ?? []) {
        const list = usedBy.get(alias) ?? [];
        list.push(`${apiName(api)} ${role}`);
        usedBy.set(alias, list);
      }
    }
  }
  const endpoint = (e: EndpointSummary): EndpointStatus => ({ ...e, state: e.certificates.length > 0 && e.trustedFingerprints.length === 0 ? 'pending-certificate' : 'ready' });
  return {
    revision: summary.revision,
    inventoryDigest: summary.inventoryDigest,
    generation: snapshot.generation,
    loadedAt: snapshot.loadedAt.toISOString(),
    configFile: config.file,
    lastReload: lastReload
      ? {
          result: lastReload.kind,
          at: lastReload.at.toISOString(),
          reason: lastReload.reason,
          durationMs: lastReload.durationMs,
          ...(lastReload.kind === 'applied' ? { generation: lastReload.generation, revision: lastReload.revision } : {}),
          ...(lastReload.kind !== 'unchanged'
            ? {
                errors: lastReload.diagnostics.filter((d) => d.severity === 'error').map((d) => toJson(d, folder)),
                warnings: lastReload.diagnostics.filter((d) => d.severity === 'warning').map((d) => toJson(d, folder)),
              }
            : {}),
        }
      : null,
    apis: summary.apis.map((api) => ({
      ...api,
      endpoints: { production: endpoint(api.endpoints.production), ...(api.endpoints.sandbox ? { sandbox: endpoint(api.endpoints.sandbox) } : {}) },
    })),
    certificates: summary.certificates.map((file) => ({
      ...file,
      certificates: file.certificates.map((c) => ({ ...c, daysLeft: Math.floor((Date.parse(c.notAfter) - nowMs) / DAY_MS) })),
      usedBy: usedBy.get(file.alias) ?? [],
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
