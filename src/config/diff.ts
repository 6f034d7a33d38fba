// What changes between two configurations: APIs, endpoints (field by field), and the
// certificates folder. Used to log what a reload applied, and by `gatehouse plan`.
import path from 'node:path';
import { summarizeConfig } from './summary.js';
import type { ApiSummary, CertificateFileSummary, ConfigSummary, EndpointSummary } from './summary.js';
import type { GatewayConfig } from './types.js';

export interface FieldChange {
  readonly field: string;
  readonly before: unknown;
  readonly after: unknown;
}

export interface NamedChange {
  /** `Shop 1.0` for an API, `Shop 1.0 production` for an endpoint. */
  readonly name: string;
  readonly fields: readonly FieldChange[];
}

export interface ConfigChanges {
  readonly apis: { readonly added: readonly string[]; readonly removed: readonly string[]; readonly changed: readonly NamedChange[] };
  readonly endpoints: { readonly added: readonly string[]; readonly removed: readonly string[]; readonly changed: readonly NamedChange[] };
  readonly certificates: {
    readonly added: readonly CertificateFileSummary[];
    readonly removed: readonly CertificateFileSummary[];
    readonly changed: readonly { readonly before: CertificateFileSummary; readonly after: CertificateFileSummary }[];
  };
}

export const apiName = (api: Pick<ApiSummary, 'name' | 'version'>): string => `${api.name} ${api.version}`;

function flatten(value: unknown, prefix: string, out: Map<string, unknown>): Map<string, unknown> {
  const join = (key: string | number) => (prefix ? `${prefix}.${key}` : String(key));
  if (Array.isArray(value) && value.some((item) => item !== null && typeof item === 'object')) {
    // A group's targets: target by target (targets.1.url), not the whole list as one field.
    value.forEach((item, i) => flatten(item, join(i), out));
  } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, item] of Object.entries(value)) flatten(item, prefix ? `${prefix}.${key}` : key, out);
  } else {
    out.set(prefix, value);
  }
  return out;
}

/** Fields of two plain objects that differ, as dotted paths (lists of values compare whole, lists of objects item by item). */
export function fieldChanges(before: object, after: object): FieldChange[] {
  const a = flatten(before, '', new Map());
  const b = flatten(after, '', new Map());
  const changes: FieldChange[] = [];
  for (const field of new Set([...a.keys(), ...b.keys()])) {
    if (JSON.stringify(a.get(field)) !== JSON.stringify(b.get(field))) changes.push({ field, before: a.get(field), after: b.get(field) });
  }
  return changes;
}

function endpointsOf(apis: readonly ApiSummary[]): Map<string, EndpointSummary> {
  const out = new Map<string, EndpointSummary>();
  for (const api of apis) {
    for (const [role, endpoint] of Object.entries(api.endpoints)) if (endpoint) out.set(`${apiName(api)} ${role}`, endpoint);
  }
  return out;
}

const certificateFileKey = (file: CertificateFileSummary): string => path.basename(file.file);

function keyed<T>(items: readonly T[], key: (item: T) => string): Map<string, T> {
  return new Map(items.map((item) => [key(item), item]));
}

export function diffConfigs(before: ConfigSummary | undefined, after: ConfigSummary): ConfigChanges {
  const apisBefore = keyed(before?.apis ?? [], apiName);
  const apisAfter = keyed(after.apis, apiName);
  const apiShape = (api: ApiSummary) => ({ context: api.context, default: api.default, resources: api.resources ?? null, resourcesFrom: api.resourcesFrom ?? null, maxBodyBytes: api.maxBodyBytes ?? null, security: api.security ?? null, rateLimit: api.rateLimit ?? null });

  const endpointsBefore = endpointsOf(before?.apis ?? []);
  const endpointsAfter = endpointsOf(after.apis);

  // By file name, not absolute path: `plan --against` compares a running gateway (its folder may be
  // /etc/gatehouse/certs in a container) with a checkout.
  const certsBefore = keyed(before?.certificates ?? [], certificateFileKey);
  const certsAfter = keyed(after.certificates, certificateFileKey);

  return {
    apis: {
      added: [...apisAfter.keys()].filter((k) => !apisBefore.has(k)),
      removed: [...apisBefore.keys()].filter((k) => !apisAfter.has(k)),
      changed: [...apisAfter]
        .filter(([k]) => apisBefore.has(k))
        .map(([k, api]) => ({ name: k, fields: fieldChanges(apiShape(apisBefore.get(k)!), apiShape(api)) }))
        .filter((c) => c.fields.length > 0),
    },
    endpoints: {
      added: [...endpointsAfter.keys()].filter((k) => !endpointsBefore.has(k)),
      removed: [...endpointsBefore.keys()].filter((k) => !endpointsAfter.has(k)),
      changed: [...endpointsAfter]
        .filter(([k]) => endpointsBefore.has(k))
        .map(([k, endpoint]) => ({ name: k, fields: fieldChanges(endpointsBefore.get(k)!, endpoint) }))
        .filter((c) => c.fields.length > 0),
    },
    certificates: {
      added: [...certsAfter.values()].filter((c) => !certsBefore.has(certificateFileKey(c))),
      removed: [...certsBefore.values()].filter((c) => !certsAfter.has(certificateFileKey(c))),
      changed: [...certsAfter.values()]
        .filter((c) => certsBefore.has(certificateFileKey(c)) && certsBefore.get(certificateFileKey(c))!.sha256 !== c.sha256)
        .map((c) => ({ before: certsBefore.get(certificateFileKey(c))!, after: c })),
    },
  };
}

/**
 * diffConfigs of two compiled configurations that share their unchanged APIs and certificate
 * files (a reload's: see delta.ts): only what is not shared is summarized and compared, so that
 * the diff costs what changed.
 */
export function diffCompiled(before: GatewayConfig, after: GatewayConfig): ConfigChanges {
  const notIn = <T>(list: readonly T[], other: readonly T[]): T[] => {
    const shared = new Set(other);
    return list.filter((item) => !shared.has(item));
  };
  const part = (config: GatewayConfig, other: GatewayConfig): GatewayConfig => ({ ...config, apis: notIn(config.apis, other.apis), inventory: notIn(config.inventory, other.inventory) });
  return diffConfigs(summarizeConfig(part(before, after)), summarizeConfig(part(after, before)));
}

export function hasChanges(changes: ConfigChanges): boolean {
  return [changes.apis, changes.endpoints, changes.certificates].some((group) => group.added.length + group.removed.length + group.changed.length > 0);
}

/** For a log line: what was added, removed and changed, by name. */
export function changeSummary(changes: ConfigChanges): Record<string, unknown> {
  return {
    apis: { added: changes.apis.added, removed: changes.apis.removed, changed: changes.apis.changed.map((c) => c.name) },
    endpoints: {
      added: changes.endpoints.added,
      removed: changes.endpoints.removed,
      changed: changes.endpoints.changed.map((c) => `${c.name} (${c.fields.map((f) => f.field).join(', ')})`),
    },
    certificates: {
      added: changes.certificates.added.map((c) => c.alias),
      removed: changes.certificates.removed.map((c) => c.alias),
      changed: changes.certificates.changed.map((c) => c.after.alias),
    },
  };
}
