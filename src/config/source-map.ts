// Where each node of a parsed document was written: JSON Pointer → positions of its key and
// value, and the value's text as written (before ${VAR} expansion, so that messages quoting a
// value never reveal what an environment variable held).

export interface Position {
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
}

interface Entry {
  key?: Position;
  value?: Position;
  text?: string;
}

export type PathSegment = string | number;

/** RFC 6901, the form ajv uses in `instancePath`. */
export function toPointer(segments: readonly PathSegment[]): string {
  return segments.map((s) => '/' + String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/** The pointer of a child: `parent` + one segment. */
export function childPointer(parent: string, segment: PathSegment): string {
  const text = String(segment);
  return `${parent}/${text.includes('~') || text.includes('/') ? text.replace(/~/g, '~0').replace(/\//g, '~1') : text}`;
}

export function fromPointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function parentPointer(pointer: string): string {
  return pointer.slice(0, Math.max(0, pointer.lastIndexOf('/')));
}

/** `/apis/0/endpoints/production/url` → `apis[0].endpoints.production.url`, using the data to tell indices from keys. */
export function displayPointer(data: unknown, pointer: string): string {
  let out = '';
  let node: unknown = data;
  for (const segment of fromPointer(pointer)) {
    if (Array.isArray(node)) {
      out += `[${segment}]`;
      node = node[Number(segment)];
    } else {
      out += /^[A-Za-z_$][\w$-]*$/.test(segment) ? (out ? '.' : '') + segment : `[${JSON.stringify(segment)}]`;
      node = isRecord(node) ? node[segment] : undefined;
    }
  }
  return out;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Built on first use: most loads are valid and never ask for a position, and walking every node
 * of a thousand-API document costs about as much as parsing it.
 */
export class SourceMap {
  readonly #entries = new Map<string, Entry>();
  #build: ((map: SourceMap) => void) | undefined;

  constructor(build?: (map: SourceMap) => void) {
    this.#build = build;
  }

  #entriesBuilt(): Map<string, Entry> {
    const build = this.#build;
    if (build) {
      this.#build = undefined;
      build(this);
    }
    return this.#entries;
  }

  /**
   * Records a position; the first record of a pointer wins (explicit keys before merged ones).
   * The entry is kept as given (callers pass a fresh object): a thousand-API document has tens of
   * thousands of entries, and copying each one showed up in the reload profile.
   */
  set(pointer: string, entry: Entry): void {
    const existing = this.#entries.get(pointer);
    if (!existing) {
      this.#entries.set(pointer, entry);
      return;
    }
    existing.key ??= entry.key;
    existing.value ??= entry.value;
    existing.text ??= entry.text;
  }

  /**
   * Where to point for a node: its key (for unknown keys and for problems with a whole section),
   * or its value. A pointer that was not written (a default filled in by the schema) falls back
   * to the nearest written ancestor's key.
   */
  locate(pointer: string, prefer: 'key' | 'value' = 'value'): Position | undefined {
    const entries = this.#entriesBuilt();
    for (let p: string | undefined = pointer; p !== undefined; p = p === '' ? undefined : parentPointer(p)) {
      const entry = entries.get(p);
      if (!entry) continue;
      const position = p === pointer && prefer === 'value' ? (entry.value ?? entry.key) : (entry.key ?? entry.value);
      if (position) return position;
    }
    return undefined;
  }

  /** True when the document itself contains this node (it was not filled in from a default). */
  has(pointer: string): boolean {
    return this.#entriesBuilt().has(pointer);
  }

  /** The value's source text as written, when it is a scalar. */
  text(pointer: string): string | undefined {
    return this.#entriesBuilt().get(pointer)?.text;
  }
}
