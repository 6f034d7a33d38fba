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
    // The path is walked in place (no array of its segments per request).
    const count = path === '' || path === '/' ? 0 : segmentCount(path);
    let allow: Set<string> | undefined;
    for (const resource of this.#resources) {
      if (!matches(resource, path, count)) continue;
      if (resource.methods.has(method)) return ALLOWED;
      allow ??= new Set();
      for (const m of resource.methods) allow.add(m);
    }
    return allow ? { kind: 'method', allow: [...allow].join(', ') } : NOT_LISTED;
  }
}

/** Segments of a path that starts with '/': one more than the slashes after the first. */
function segmentCount(path: string): number {
  let count = 1;
  for (let at = path.indexOf('/', 1); at !== -1; at = path.indexOf('/', at + 1)) count++;
  return count;
}

function matches(resource: CompiledResource, path: string, count: number): boolean {
  const n = resource.segments.length;
  if (resource.wildcard ? count < n : count !== n) return false;
  // Segment i runs from just after a '/' to the next '/' (or the end).
  let start = 1;
  for (let i = 0; i < n; i++) {
    const slash = path.indexOf('/', start);
    const end = slash === -1 ? path.length : slash;
    const literal = resource.segments[i]!;
    if (literal === null ? end === start : literal.length !== end - start || !path.startsWith(literal, start)) return false;
    start = end + 1;
  }
  return true;
}
