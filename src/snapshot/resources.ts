// An API's resources allow-list, compiled once per snapshot: path templates (/menu,
// /order/{orderId}, /files/*) with their methods. A request's path (after the version) is either
// not listed (404 NO_ROUTE), listed with other methods (405 METHOD_NOT_ALLOWED), or allowed.
import type { ResourceConfig } from '../config/types.js';

interface CompiledResource {
  /** Literal segments, or null for a {parameter}. */
  readonly segments: readonly (string | null)[];
  /** A trailing /*: any rest, including none. */
  readonly wildcard: boolean;
  readonly methods: ReadonlySet<string>;
}

export type ResourceMatch = { readonly kind: 'allowed' } | { readonly kind: 'not-listed' } | { readonly kind: 'method'; readonly allow: string };

const ALLOWED: ResourceMatch = Object.freeze({ kind: 'allowed' });
const NOT_LISTED: ResourceMatch = Object.freeze({ kind: 'not-listed' });

export class ResourceTable {
  readonly #resources: readonly CompiledResource[];

  constructor(resources: readonly ResourceConfig[]) {
    this.#resources = resources.map((r) => {
      const parts = r.path === '/' ? [] : r.path.slice(1).split('/');
      const wildcard = parts[parts.length - 1] === '*';
      if (wildcard) parts.pop();
      return {
        segments: parts.map((p) => (p.startsWith('{') ? null : p)),
        wildcard,
        methods: new Set(r.methods),
      };
    });
  }

  /** `path` is the part after /context/version ('' or starting with /), without the query. */
  match(path: string, method: string): ResourceMatch {
    const segments = path === '' || path === '/' ? [] : path.slice(1).split('/');
    let allow: Set<string> | undefined;
    for (const resource of this.#resources) {
      if (!matches(resource, segments)) continue;
      if (resource.methods.has(method)) return ALLOWED;
      allow ??= new Set();
      for (const m of resource.methods) allow.add(m);
    }
    return allow ? { kind: 'method', allow: [...allow].join(', ') } : NOT_LISTED;
  }
}

function matches(resource: CompiledResource, segments: readonly string[]): boolean {
  const n = resource.segments.length;
  if (resource.wildcard ? segments.length < n : segments.length !== n) return false;
  for (let i = 0; i < n; i++) {
    const literal = resource.segments[i];
    const segment = segments[i]!;
    if (literal === null ? segment === '' : literal !== segment) return false;
  }
  return true;
}
