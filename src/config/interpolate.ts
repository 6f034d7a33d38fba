// ${VAR} and ${VAR:-default} in string values, read from the environment given (never from
// process.env directly, so that this stage stays pure). Expansion happens on parsed values, not
// on the text: a variable can change a value, never the document's structure.
//
//   ${VAR}           the variable; an error names it when it is unset
//   ${VAR:-default}  the default when the variable is unset or empty (POSIX shell semantics)
//   $${              a literal ${
//
// The result is text. A value that is exactly one reference (`default: ${ORDERS_DEFAULT:-true}`)
// is listed in `references`, and validation reads it as the type the schema expects where it
// stands (schema.ts, coerceReferences): this stage knows nothing of the schema.
import { isRecord, toPointer } from './source-map.js';
import type { PathSegment } from './source-map.js';

export interface InterpolationProblem {
  readonly pointer: string;
  readonly message: string;
}

export interface InterpolationResult {
  readonly data: unknown;
  readonly problems: InterpolationProblem[];
  /** Pointers of values that referenced a variable (their expanded text is kept out of messages). */
  readonly expanded: ReadonlySet<string>;
  /** Values that are exactly one reference, resolved: pointer → the variable and where its text came from. */
  readonly references: ReadonlyMap<string, Reference>;
}

/** A value written as one reference, `${NAME}` or `${NAME:-default}`, that resolved. */
export interface Reference {
  readonly name: string;
  /** The environment (possibly set but empty), or the default written in the file (then not a secret). */
  readonly from: 'environment' | 'default';
}

export type Environment = Readonly<Record<string, string | undefined>>;

const REFERENCE = /\$\$\{|\$\{([^}]*)\}?/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** The whole value is one reference (the form definitions.variable of the schema describes for editors). */
const WHOLE = /^\$\{[^}]*\}$/;

export function interpolate(data: unknown, env: Environment): InterpolationResult {
  const problems: InterpolationProblem[] = [];
  const expanded = new Set<string>();
  const references = new Map<string, Reference>();

  const expandString = (value: string, path: PathSegment[]): string => {
    if (!value.includes('$')) return value;
    const pointer = toPointer(path);
    let touched = false;
    let resolved: Reference | undefined;
    const result = value.replace(REFERENCE, (match: string, body: string | undefined) => {
      if (match === '$${') return '${';
      touched = true;
      if (!match.endsWith('}')) {
        problems.push({ pointer, message: `unterminated variable reference "${match}" (write \${NAME} or \${NAME:-default}; $\${ for a literal \${)` });
        return match;
      }
      const separator = body!.indexOf(':-');
      const name = separator === -1 ? body! : body!.slice(0, separator);
      if (!NAME.test(name)) {
        problems.push({ pointer, message: `malformed variable reference "${match}" (write \${NAME} or \${NAME:-default} with NAME of letters, digits and _)` });
        return match;
      }
      const set = env[name];
      if (set !== undefined && set !== '') {
        resolved = { name, from: 'environment' };
        return set;
      }
      if (separator !== -1) {
        resolved = { name, from: 'default' };
        return body!.slice(separator + 2);
      }
      if (set === '') {
        resolved = { name, from: 'environment' };
        return '';
      }
      problems.push({ pointer, message: `environment variable ${name} is not set (set it, or write \${${name}:-default})` });
      return match;
    });
    if (touched) expanded.add(pointer);
    if (resolved && WHOLE.test(value)) references.set(pointer, resolved);
    return result;
  };

  const walk = (value: unknown, path: PathSegment[]): unknown => {
    if (typeof value === 'string') return expandString(value, path);
    if (Array.isArray(value)) return value.map((item, index) => walk(item, [...path, index]));
    if (isRecord(value) && !(value instanceof Date)) {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        // defineProperty: a key named "__proto__" stays an own (and so unknown, reported) key.
        Object.defineProperty(out, key, { value: walk(item, [...path, key]), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return value;
  };

  return { data: walk(data, []), problems, expanded, references };
}
