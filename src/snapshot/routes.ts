// Routing (docs/http.md): /{context}/{version}/{rest} → the API of that context and version;
// /{context}/{rest} → the context's default version. The longest context wins, and owns every
// path under it: a path under a context that names no version of it (and the context has no
// default) is NO_ROUTE, never handed to a shorter context.

export interface RouteMatch<T> {
  readonly target: T;
  /** The path after /context/version (or after /context for the default version): '' or '/...'. */
  readonly rest: string;
}

export type RouteMiss = { readonly reason: 'no-context' } | { readonly reason: 'no-version'; readonly context: string; readonly versions: string };

interface ContextEntry<T> {
  readonly versions: Map<string, T>;
  defaultTarget?: T;
}

export interface Routable {
  readonly context: string;
  readonly version: string;
  readonly isDefault: boolean;
}

export class Router<T> {
  readonly #contexts = new Map<string, ContextEntry<T>>();
  readonly #longest: number;

  constructor(entries: readonly (readonly [Routable, T])[]) {
    let longest = 0;
    for (const [api, target] of entries) {
      let entry = this.#contexts.get(api.context);
      if (!entry) {
        entry = { versions: new Map() };
        this.#contexts.set(api.context, entry);
      }
      entry.versions.set(api.version, target);
      if (api.isDefault) entry.defaultTarget = target;
      longest = Math.max(longest, api.context.length);
    }
    this.#longest = longest;
  }

  /** `path` starts with / and has no query string. */
  match(path: string): RouteMatch<T> | RouteMiss {
    // Candidate contexts end where a segment ends: at a '/' or at the end of the path. Longest first.
    let end = path.length <= this.#longest ? path.length : path.lastIndexOf('/', this.#longest);
    while (end > 0) {
      const context = end === path.length ? path : path.slice(0, end);
      const entry = this.#contexts.get(context);
      if (entry) return this.#inContext(entry, context, path.slice(end));
      end = path.lastIndexOf('/', end - 1);
    }
    return NO_CONTEXT;
  }

  #inContext(entry: ContextEntry<T>, context: string, remainder: string): RouteMatch<T> | RouteMiss {
    if (remainder.length > 1) {
      const slash = remainder.indexOf('/', 1);
      const version = slash === -1 ? remainder.slice(1) : remainder.slice(1, slash);
      const target = entry.versions.get(version);
      if (target !== undefined) return { target, rest: slash === -1 ? '' : remainder.slice(slash) };
    }
    if (entry.defaultTarget !== undefined) return { target: entry.defaultTarget, rest: remainder };
    return { reason: 'no-version', context, versions: [...entry.versions.keys()].join(', ') };
  }
}

const NO_CONTEXT: RouteMiss = Object.freeze({ reason: 'no-context' });
