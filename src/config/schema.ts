// Validate: the document against schemas/gateway.schema.json with ajv, every error at once,
// each turned into a positioned diagnostic a person can act on. The schema also fills in every
// default (ajv useDefaults), so no default is written a second time in code.
//
// The file serves two readers. Editors validate the text as written, where a value may still be
// a ${VAR} reference: for them, each value that may come from a variable is an anyOf of its own
// form and a variable (definitions.variable, definitions.containsVariable). Gatehouse validates
// the expanded document, where text that still reads ${VAR} came from a $${ literal and must not
// pass as a boolean or a duration, so it reads the file with those alternatives taken out
// (`schema` below): its messages are those of the value's own form, one sentence each, never an
// anyOf's three. Editors' messages stay one sentence too: the value's own form comes first in
// each anyOf, and the YAML language server reports the first of equally bad alternatives.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import type { Diagnostic } from '../diagnostics.js';
import type { Code } from '../errors.js';
import { displayPointer, fromPointer, isRecord, toPointer } from './source-map.js';
import type { PathSegment, SourceMap } from './source-map.js';
import type { Reference } from './interpolate.js';
import { closestWord, suggest } from '../text.js';

export const SCHEMA_URL = new URL('../../schemas/gateway.schema.json', import.meta.url);

export interface SchemaNode {
  readonly type?: string | readonly string[];
  readonly description?: string;
  readonly default?: unknown;
  readonly examples?: readonly unknown[];
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly pattern?: string;
  readonly patternErrorMessage?: string;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly required?: readonly string[];
  readonly items?: SchemaNode;
  readonly anyOf?: readonly SchemaNode[];
  readonly $ref?: string;
  readonly writeOnly?: boolean;
  readonly definitions?: Readonly<Record<string, SchemaNode>>;
}

/** The definitions editors use for a value that is, or contains, a ${VAR} reference. */
export const VARIABLE_DEFINITIONS: readonly string[] = ['variable', 'containsVariable'];

/** schemas/gateway.schema.json as written: what editors read. */
export const editorSchema = JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as SchemaNode;

/** The language after ${VAR} expansion: the file without its variable alternatives. What Gatehouse validates, and what the reference documents. */
export const schema = withoutVariables(editorSchema) as SchemaNode;

/**
 * `node` with every anyOf alternative that is a variable removed; an anyOf left with a single
 * alternative is replaced by it (its keywords join the node's: description, default...).
 */
export function withoutVariables(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutVariables);
  if (!isRecord(node)) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'definitions' && isRecord(value)) {
      out[key] = Object.fromEntries(Object.entries(value).filter(([name]) => !VARIABLE_DEFINITIONS.includes(name)).map(([name, d]) => [name, withoutVariables(d)]));
    } else if (key === 'anyOf' && Array.isArray(value)) {
      const kept = value.filter((alternative) => !isVariableRef(alternative));
      if (kept.length === 1) Object.assign(out, withoutVariables(kept[0]));
      else out[key] = kept.map(withoutVariables);
    } else {
      out[key] = withoutVariables(value);
    }
  }
  return out;
}

function isVariableRef(node: unknown): boolean {
  return isRecord(node) && typeof node.$ref === 'string' && VARIABLE_DEFINITIONS.some((name) => node.$ref === `#/definitions/${name}`);
}

/** A node with its $ref resolved: the definition's keywords, then the node's own (description, default). */
function resolved(node: SchemaNode, root: SchemaNode): SchemaNode {
  let out = node;
  for (let depth = 0; out.$ref?.startsWith('#/definitions/') && depth < 16; depth++) {
    const { $ref, ...own } = out;
    out = { ...root.definitions?.[$ref.slice('#/definitions/'.length)], ...own };
  }
  return out;
}

/** The schema of the value at `pointer`, $ref resolved; undefined where the schema does not describe one. */
export function schemaAt(pointer: string, root: SchemaNode = schema): SchemaNode | undefined {
  let node = resolved(root, root);
  for (const segment of fromPointer(pointer)) {
    const child = node.properties && Object.hasOwn(node.properties, segment) ? node.properties[segment] : /^[0-9]+$/.test(segment) ? node.items : undefined;
    if (!child) return undefined;
    node = resolved(child, root);
  }
  return node;
}

/**
 * Every value of `data` that the schema declares as `definitions.<definition>` (`duration`), with
 * its pointer and the node declaring it (whose default and examples say how it is usually written).
 */
export function valuesOf(data: unknown, definition: string, root: SchemaNode = schema): { pointer: string; value: unknown; node: SchemaNode }[] {
  const target = `#/definitions/${definition}`;
  const out: { pointer: string; value: unknown; node: SchemaNode }[] = [];
  const walk = (value: unknown, node: SchemaNode, path: PathSegment[]): void => {
    if (node.$ref === target) out.push({ pointer: toPointer(path), value, node });
    const full = resolved(node, root);
    if (isRecord(value) && full.properties) {
      for (const key of Object.keys(value)) {
        if (Object.hasOwn(full.properties, key)) walk(value[key], full.properties[key]!, [...path, key]);
      }
    } else if (Array.isArray(value) && full.items) {
      value.forEach((item, index) => walk(item, full.items!, [...path, index]));
    }
  };
  walk(data, root, []);
  return out;
}

// ajv-formats is CommonJS: under ESM its default import is module.exports, whose .default is the plugin.
const addFormats = ajvFormats.default;

let compiled: ValidateFunction | undefined;

/** Compiles the schema now rather than at the first validation (the reload worker does this as it starts). */
export function prepareSchema(): void {
  validator();
}

function validator(): ValidateFunction {
  if (compiled) return compiled;
  const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true, allowUnionTypes: true });
  addFormats(ajv, ['hostname']);
  // Read by editors (the YAML language server shows it instead of the bare pattern) and by us.
  ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
  compiled = ajv.compile(schema);
  return compiled;
}

/**
 * Validates `data` in place: ajv fills in the schema's defaults, and a value that is exactly one
 * ${VAR} reference (`references`) is first read as the type the schema expects there (see
 * `coerceReferences`). Diagnostics for nodes whose value was an unresolved ${VAR} (`unresolved`)
 * are left out: interpolation reports those once. Values that came from a variable (`expanded`)
 * are quoted as written, never as expanded.
 */
export function validateSchema(
  data: unknown,
  file: string,
  sourceMap: SourceMap,
  {
    unresolved = new Set<string>(),
    expanded = new Set<string>(),
    references = new Map<string, Reference>(),
  }: { unresolved?: ReadonlySet<string>; expanded?: ReadonlySet<string>; references?: ReadonlyMap<string, Reference> } = {},
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const skip = new Set(unresolved);
  for (const problem of coerceReferences(data, references, unresolved)) {
    skip.add(problem.pointer);
    const position = sourceMap.locate(problem.pointer, 'value');
    const path = displayPointer(data, problem.pointer);
    out.push({ severity: 'error', code: 'CONFIG_TYPE', file, ...(position ?? {}), ...(path ? { path } : {}), message: problem.message });
  }
  const validate = validator();
  if (validate(data)) return out;
  const errors = validate.errors ?? [];
  // "contxt: did you mean context?" already says that context is missing: say it once.
  const misspelled = new Set(
    errors.flatMap((e) => {
      if (e.keyword !== 'additionalProperties') return [];
      const known = Object.keys((e.parentSchema as SchemaNode | undefined)?.properties ?? {});
      const guess = closestWord((e.params as { additionalProperty: string }).additionalProperty, known);
      return guess ? [`${e.instancePath}\0${guess}`] : [];
    }),
  );
  const seen = new Set<string>();
  for (const error of errors) {
    if (skip.has(error.instancePath)) continue;
    if (error.keyword === 'required' && misspelled.has(`${error.instancePath}\0${(error.params as { missingProperty: string }).missingProperty}`)) continue;
    const diagnostic = toDiagnostic(error, data, file, sourceMap, expanded);
    const key = `${diagnostic.path}\0${diagnostic.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(diagnostic);
  }
  return out;
}

// ------------------------------------------------------------------ typed variables

/** YAML 1.2's core schema (and so `default: true` written in the file): these words only. */
const BOOLEAN_WORDS: Readonly<Record<string, boolean>> = { true: true, True: true, TRUE: true, false: false, False: false, FALSE: false };
/** Words other languages read as booleans. Named in the message: they are not secrets, and the fix is obvious. */
const NOT_BOOLEAN = /^(yes|no|y|n|on|off|1|0|enabled?|disabled?)$/i;
const NUMBER = /^[-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/;

export interface CoercionProblem {
  readonly pointer: string;
  readonly message: string;
}

/**
 * A value that is exactly one ${VAR} reference expands to text; where the schema expects a
 * boolean or a number (and no string), that text is read as one, in place: `default:
 * ${ORDERS_DEFAULT:-true}` is then true. Where a string is accepted (durations, sizes, addresses:
 * "2500", "10s", "8280") the text stays text. Only whole references are read so: `yes${X}` is text.
 *
 * A value that does not read as the expected type is a problem naming the variable; the value
 * itself is not quoted (it may be a secret), unless it is a default written in the file or one
 * of the words other languages take for booleans (yes, on, 1...), which are named to say why.
 */
export function coerceReferences(
  data: unknown,
  references: ReadonlyMap<string, Reference>,
  unresolved: ReadonlySet<string> = new Set(),
  root: SchemaNode = schema,
): CoercionProblem[] {
  const problems: CoercionProblem[] = [];
  for (const [pointer, reference] of references) {
    if (unresolved.has(pointer)) continue;
    const types = typesOf(schemaAt(pointer, root), root);
    if (!types || types.includes('string')) continue;
    const segments = fromPointer(pointer);
    const parent = valueAt(data, segments.slice(0, -1));
    const key = segments[segments.length - 1]!;
    const text = isRecord(parent) || Array.isArray(parent) ? (parent as Record<string, unknown>)[key] : undefined;
    if (typeof text !== 'string') continue;
    let value: boolean | number | undefined;
    if (types.includes('boolean') && Object.hasOwn(BOOLEAN_WORDS, text)) value = BOOLEAN_WORDS[text];
    else if ((types.includes('integer') || types.includes('number')) && NUMBER.test(text)) value = Number(text);
    if (value !== undefined) {
      (parent as Record<string, unknown>)[key] = value;
      continue;
    }
    const expected = `must be ${typeNames(types.filter((t) => t !== 'null'))}`;
    let message: string;
    if (reference.from === 'default') message = `${reference.name} is not set, and its default ${JSON.stringify(text)} ${expected}`;
    else if (text === '') message = `${reference.name} is set but empty; it ${expected} here`;
    else if (types.includes('boolean') && NOT_BOOLEAN.test(text)) message = `${reference.name}=${JSON.stringify(text)}: ${expected} (yes/no, on/off and 1/0 are not booleans in YAML 1.2 or TOML)`;
    else message = `${reference.name} ${expected} here (its value is not shown: it comes from the environment)`;
    problems.push({ pointer, message });
  }
  return problems;
}

/** The JSON types a node allows; undefined when it does not say (a const, an empty schema). */
function typesOf(node: SchemaNode | undefined, root: SchemaNode): string[] | undefined {
  if (!node) return undefined;
  if (node.type !== undefined) return ([] as string[]).concat(node.type);
  if (node.anyOf) {
    const all = node.anyOf.map((alternative) => typesOf(resolved(alternative, root), root));
    return all.some((t) => t === undefined) ? undefined : [...new Set(all.flat() as string[])];
  }
  if (node.enum) return [...new Set(node.enum.map((v) => (typeof v === 'string' ? 'string' : typeof v)))];
  return undefined;
}

function valueAt(data: unknown, segments: readonly string[]): unknown {
  let node = data;
  for (const segment of segments) {
    if (Array.isArray(node)) node = node[Number(segment)];
    else if (isRecord(node)) node = Object.hasOwn(node, segment) ? node[segment] : undefined;
    else return undefined;
  }
  return node;
}

function toDiagnostic(
  error: ErrorObject,
  data: unknown,
  file: string,
  sourceMap: SourceMap,
  expanded: ReadonlySet<string>,
): Diagnostic {
  const parent = (error.parentSchema ?? {}) as SchemaNode;
  let pointer = error.instancePath;
  let prefer: 'key' | 'value' = 'value';
  let code: Code = 'CONFIG_INVALID_VALUE';
  let message: string;
  const got = (): string => describeValue(error.data, sourceMap.text(error.instancePath), expanded.has(error.instancePath));

  switch (error.keyword) {
    case 'additionalProperties': {
      const key = (error.params as { additionalProperty: string }).additionalProperty;
      pointer = `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      prefer = 'key';
      code = 'CONFIG_UNKNOWN_KEY';
      const known = Object.keys(parent.properties ?? {});
      message = `unknown key "${key}"${suggest(key, known)} (known: ${known.join(', ')})`;
      break;
    }
    case 'required': {
      const key = (error.params as { missingProperty: string }).missingProperty;
      prefer = 'key';
      code = 'CONFIG_MISSING_KEY';
      const description = parent.properties?.[key]?.description;
      message = `missing required key "${key}"${description ? ` (${firstSentence(description)})` : ''}`;
      break;
    }
    case 'type': {
      code = 'CONFIG_TYPE';
      const expected = (error.params as { type: string | string[] }).type;
      // A union such as duration (string or integer) is best explained by its pattern message.
      message =
        Array.isArray(expected) && parent.patternErrorMessage
          ? `${parent.patternErrorMessage} (got ${got()})`
          : `must be ${typeNames(expected)} (got ${got()})${quoteHint(parent, error.data, sourceMap.text(error.instancePath))}`;
      break;
    }
    case 'enum': {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues.map(String);
      const value = typeof error.data === 'string' ? error.data : '';
      message = `must be one of ${allowed.join(', ')} (got ${got()})${suggest(value, allowed)}`;
      break;
    }
    case 'const': {
      const allowed = (error.params as { allowedValue: unknown }).allowedValue;
      message = `must be ${JSON.stringify(allowed)} (got ${got()})`;
      if (error.instancePath === '/version') message += '; this Gatehouse reads configuration version 1';
      break;
    }
    case 'pattern':
      message = `${parent.patternErrorMessage ?? `must match ${(error.params as { pattern: string }).pattern}`} (got ${got()})`;
      break;
    case 'format':
      message = `must be a DNS host name like backend.internal (got ${got()})`;
      break;
    case 'minItems': {
      const limit = (error.params as { limit: number }).limit;
      const count = Array.isArray(error.data) ? error.data.length : 0;
      message = `must list at least ${limit} item${limit === 1 ? '' : 's'} (got ${count === 0 ? 'an empty list' : count === 1 ? 'one' : count})${
        error.instancePath.endsWith('/targets') ? '; a single backend is written url: instead of targets' : ''
      }`;
      break;
    }
    case 'uniqueItems': {
      const { i } = error.params as { i: number; j: number };
      const item = Array.isArray(error.data) ? (error.data as unknown[])[i] : undefined;
      message = `lists ${JSON.stringify(item)} twice`;
      break;
    }
    case 'minLength':
      message = 'must not be empty';
      break;
    case 'minimum':
    case 'maximum': {
      const { comparison, limit } = error.params as { comparison: string; limit: number };
      message = `must be ${comparison === '>=' ? 'at least' : 'at most'} ${limit} (got ${got()})`;
      break;
    }
    default:
      message = `${error.message ?? 'is invalid'} (got ${got()})`;
  }

  const position = sourceMap.locate(pointer, prefer);
  const path = displayPointer(data, pointer);
  if (error.keyword === 'type' && pointer === '') {
    message = `the configuration must be a map of keys such as version and apis (got ${got()})`;
  }
  return {
    severity: 'error',
    code,
    file,
    ...(position ?? {}),
    ...(path ? { path } : {}),
    message,
  };
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'a map of keys',
  array: 'a list',
  null: 'empty',
};

function typeNames(type: string | string[]): string {
  return (Array.isArray(type) ? type : [type]).map((t) => TYPE_NAMES[t] ?? t).join(' or ');
}

/** YAML reads 1.0 as a number: suggest quotes when the quoted text would be a valid value. */
function quoteHint(parent: SchemaNode, value: unknown, text: string | undefined): string {
  if (parent.type !== 'string' || parent.pattern === undefined) return '';
  if (typeof value !== 'number' && typeof value !== 'boolean') return '';
  const written = text ?? String(value);
  return new RegExp(parent.pattern, 'u').test(written) ? `; quote it: "${written}"` : '';
}

/**
 * A value for a message. A value that came from ${VAR} is shown as written (the reference), never
 * as expanded: it may be a secret. Numbers are shown as written (1.0, not 1).
 */
export function describeValue(value: unknown, sourceText: string | undefined, fromVariable = false): string {
  if (sourceText !== undefined && (fromVariable || typeof value !== 'string')) return truncate(sourceText.trim());
  if (fromVariable) return '(a value from the environment)';
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return value.toISOString();
  if (isRecord(value)) return 'a map';
  return truncate(JSON.stringify(value));
}

function truncate(s: string): string {
  const oneLine = s.replace(/\s*\n\s*/g, ' ');
  return oneLine.length > 80 ? `${oneLine.slice(0, 77)}...` : oneLine;
}

/** "The API's name; unique..." → "the API's name; unique..." (acronyms such as TLS keep their case). */
function firstSentence(text: string): string {
  const end = text.search(/\.(\s|$)/);
  const sentence = end === -1 ? text : text.slice(0, end);
  return /^[A-Z][a-z]/.test(sentence) ? sentence.charAt(0).toLowerCase() + sentence.slice(1) : sentence;
}
