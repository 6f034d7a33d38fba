// Inheritance: a target's setting comes from the target, else its endpoint (for a group's
// targets), else its API, else `defaults` (which the schema filled in). A v1 endpoint is its own
// one target. Each value carries the pointer where it was written, so that a rule about an
// effective value points at the line that set it.
import type { DocumentApi, DocumentSecurity, DocumentTarget, EndpointRole, GatewayDocument } from './types.js';

export type SettingGroup = 'timeouts' | 'tls' | 'headers';

export interface Resolved<T> {
  readonly value: T;
  readonly pointer: string;
}

/** One backend URL of the document: an endpoint's `url`, or one of its `targets`. */
export interface TargetRef {
  readonly apiIndex: number;
  readonly role: EndpointRole;
  /** Its position in the endpoint's targets; undefined for an endpoint's own url. */
  readonly index: number | undefined;
  /** /apis/0/endpoints/production, or /apis/0/endpoints/production/targets/1 */
  readonly pointer: string;
}

export function endpointPointer(apiIndex: number, role: EndpointRole): string {
  return `/apis/${apiIndex}/endpoints/${role}`;
}

/** The target's object in the document (for an endpoint's own url, the endpoint). */
export function targetOf(doc: GatewayDocument, ref: TargetRef): DocumentTarget {
  const endpoint = doc.apis[ref.apiIndex]!.endpoints[ref.role]!;
  return (ref.index === undefined ? endpoint : endpoint.targets![ref.index]!) as DocumentTarget;
}

export function resolveSetting<T>(doc: GatewayDocument, ref: TargetRef, group: SettingGroup, key: string): Resolved<T> | undefined {
  const api = doc.apis[ref.apiIndex]!;
  const endpoint = api.endpoints[ref.role]!;
  const base = endpointPointer(ref.apiIndex, ref.role);
  const layers: [Record<string, unknown> | undefined, string][] = [];
  if (ref.index !== undefined) layers.push([endpoint.targets![ref.index]![group] as Record<string, unknown> | undefined, `${ref.pointer}/${group}/${key}`]);
  layers.push(
    [endpoint[group] as Record<string, unknown> | undefined, `${base}/${group}/${key}`],
    [api[group] as Record<string, unknown> | undefined, `/apis/${ref.apiIndex}/${group}/${key}`],
    [doc.defaults[group] as Record<string, unknown>, `/defaults/${group}/${key}`],
  );
  for (const [section, pointer] of layers) {
    if (section && section[key] !== undefined) return { value: section[key] as T, pointer };
  }
  return undefined;
}

/**
 * The certificate aliases a target trusts, and where they are written: its own `certificate`,
 * else (for a group's target) its endpoint's.
 */
export function certificateOf(doc: GatewayDocument, ref: TargetRef): { aliases: string[]; pointer: string; list: boolean } {
  const own = targetOf(doc, ref).certificate;
  const endpoint = doc.apis[ref.apiIndex]!.endpoints[ref.role]!;
  const [value, pointer] = own !== undefined || ref.index === undefined ? [own, `${ref.pointer}/certificate`] : [endpoint.certificate, `${endpointPointer(ref.apiIndex, ref.role)}/certificate`];
  return { aliases: value === undefined ? [] : ([] as string[]).concat(value), pointer, list: Array.isArray(value) };
}

/** A group's suspension setting: the endpoint's, else defaults.suspend. */
export function resolveSuspend(doc: GatewayDocument, i: number, role: EndpointRole, key: 'initial' | 'factor' | 'max'): Resolved<string | number> {
  const own = doc.apis[i]!.endpoints[role]!.suspend?.[key];
  return own !== undefined ? { value: own, pointer: `${endpointPointer(i, role)}/suspend/${key}` } : { value: doc.defaults.suspend[key], pointer: `/defaults/suspend/${key}` };
}

/** The client certificate a target presents, and where it is written: its own, else (for a group's target) its endpoint's. */
export function clientCertificateOf(doc: GatewayDocument, ref: TargetRef): { alias: string; pointer: string } | undefined {
  const own = targetOf(doc, ref).clientCertificate;
  if (own !== undefined) return { alias: own, pointer: `${ref.pointer}/clientCertificate` };
  const inherited = ref.index === undefined ? undefined : doc.apis[ref.apiIndex]!.endpoints[ref.role]!.clientCertificate;
  return inherited === undefined ? undefined : { alias: inherited, pointer: `${endpointPointer(ref.apiIndex, ref.role)}/clientCertificate` };
}

/** Every client certificate alias the document names, once each. */
export function clientCertificateAliases(doc: GatewayDocument): Set<string> {
  const aliases = new Set<string>();
  for (const ref of documentTargets(doc)) {
    const client = clientCertificateOf(doc, ref);
    if (client) aliases.add(client.alias);
  }
  return aliases;
}

/** Every endpoint of the document, in order: [apiIndex, role]. */
export function* documentEndpoints(doc: GatewayDocument): Generator<[number, EndpointRole]> {
  for (let i = 0; i < doc.apis.length; i++) {
    yield [i, 'production'];
    if (doc.apis[i]!.endpoints.sandbox) yield [i, 'sandbox'];
  }
}

/** The targets of one endpoint: its url, or each of its targets. */
export function endpointTargets(doc: GatewayDocument, apiIndex: number, role: EndpointRole): TargetRef[] {
  const endpoint = doc.apis[apiIndex]!.endpoints[role]!;
  const base = endpointPointer(apiIndex, role);
  if (!endpoint.targets) return [{ apiIndex, role, index: undefined, pointer: base }];
  return endpoint.targets.map((_, index) => ({ apiIndex, role, index, pointer: `${base}/targets/${index}` }));
}

/** Every backend URL of the document, in order. */
export function* documentTargets(doc: GatewayDocument): Generator<TargetRef> {
  for (const [i, role] of documentEndpoints(doc)) yield* endpointTargets(doc, i, role);
}

/** Pointers of every place a setting group is written: defaults, each API, each endpoint, each target. */
export function* settingSections(doc: GatewayDocument, group: SettingGroup): Generator<[Record<string, unknown>, string]> {
  yield [doc.defaults[group] as Record<string, unknown>, `/defaults/${group}`];
  for (let i = 0; i < doc.apis.length; i++) {
    const api = doc.apis[i]!;
    if (api[group]) yield [api[group] as Record<string, unknown>, `/apis/${i}/${group}`];
    for (const role of ['production', 'sandbox'] as const) {
      const endpoint = api.endpoints[role];
      if (!endpoint) continue;
      if (endpoint[group]) yield [endpoint[group] as Record<string, unknown>, `${endpointPointer(i, role)}/${group}`];
      for (const [k, target] of (endpoint.targets ?? []).entries()) {
        if (target[group]) yield [target[group] as Record<string, unknown>, `${endpointPointer(i, role)}/targets/${k}/${group}`];
      }
    }
  }
}

/** The security in effect for API `i`: its own (which replaces the default's whole), else defaults.security. */
export function securityOf(doc: GatewayDocument, i: number): { readonly security: DocumentSecurity | undefined; readonly pointer: string } {
  const own = doc.apis[i]!.security;
  return own ? { security: own, pointer: `/apis/${i}/security` } : { security: doc.defaults.security, pointer: '/defaults/security' };
}

/** Whether security.jwt.jwks names a URL to fetch (else a file). */
export function isJwksUrl(jwks: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(jwks);
}

/** The definition an API's resources come from (resources: { openapi }), as written; undefined when they are listed or absent. */
export function openApiFileOf(api: DocumentApi): string | undefined {
  const resources = api.resources;
  return resources && !Array.isArray(resources) ? resources.openapi : undefined;
}
