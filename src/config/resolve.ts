// Inheritance: an endpoint's setting comes from the endpoint, else its API, else `defaults`
// (which the schema filled in). Each value carries the pointer where it was written, so that a
// rule about an effective value points at the line that set it.
import type { EndpointRole, GatewayDocument } from './types.js';

export type SettingGroup = 'timeouts' | 'tls' | 'headers';

export interface Resolved<T> {
  readonly value: T;
  readonly pointer: string;
}

export function endpointPointer(apiIndex: number, role: EndpointRole): string {
  return `/apis/${apiIndex}/endpoints/${role}`;
}

export function resolveSetting<T>(
  doc: GatewayDocument,
  apiIndex: number,
  role: EndpointRole,
  group: SettingGroup,
  key: string,
): Resolved<T> | undefined {
  const api = doc.apis[apiIndex]!;
  const endpoint = api.endpoints[role]!;
  const layers: [Record<string, unknown> | undefined, string][] = [
    [endpoint[group] as Record<string, unknown> | undefined, `${endpointPointer(apiIndex, role)}/${group}/${key}`],
    [api[group] as Record<string, unknown> | undefined, `/apis/${apiIndex}/${group}/${key}`],
    [doc.defaults[group] as Record<string, unknown>, `/defaults/${group}/${key}`],
  ];
  for (const [section, pointer] of layers) {
    if (section && section[key] !== undefined) return { value: section[key] as T, pointer };
  }
  return undefined;
}

/** Every endpoint of the document, in order: [apiIndex, role]. */
export function* documentEndpoints(doc: GatewayDocument): Generator<[number, EndpointRole]> {
  for (let i = 0; i < doc.apis.length; i++) {
    yield [i, 'production'];
    if (doc.apis[i]!.endpoints.sandbox) yield [i, 'sandbox'];
  }
}

/** Pointers of every place a setting group is written: defaults, each API, each endpoint. */
export function* settingSections(doc: GatewayDocument, group: SettingGroup): Generator<[Record<string, unknown>, string]> {
  yield [doc.defaults[group] as Record<string, unknown>, `/defaults/${group}`];
  for (let i = 0; i < doc.apis.length; i++) {
    const api = doc.apis[i]!;
    if (api[group]) yield [api[group] as Record<string, unknown>, `/apis/${i}/${group}`];
    for (const role of ['production', 'sandbox'] as const) {
      const section = api.endpoints[role]?.[group];
      if (section) yield [section as Record<string, unknown>, `${endpointPointer(i, role)}/${group}`];
    }
  }
}
