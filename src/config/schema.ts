// Validate: the document against schemas/gateway.schema.json with ajv, every error at once,
// each turned into a positioned diagnostic a person can act on. The schema also fills in every
// default (ajv useDefaults), so no default is written a second time in code.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import type { Diagnostic } from '../diagnostics.js';
import type { Code } from '../errors.js';
import { displayPointer, isRecord } from './source-map.js';
import type { SourceMap } from './source-map.js';
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
  readonly $ref?: string;
  readonly writeOnly?: boolean;
  readonly definitions?: Readonly<Record<string, SchemaNode>>;
}

export const schema = JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as SchemaNode;

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
 * Validates `data` in place: ajv fills in the schema's defaults. Diagnostics for nodes whose
 * value was an unresolved ${VAR} (`unresolved`) are left out: interpolation reports those once.
 * Values that came from a variable (`expanded`) are quoted as written, never as expanded.
 */
export function validateSchema(
  data: unknown,
  file: string,
  sourceMap: SourceMap,
  { unresolved = new Set<string>(), expanded = new Set<string>() }: { unresolved?: ReadonlySet<string>; expanded?: ReadonlySet<string> } = {},
): Diagnostic[] {
  const validate = validator();
  if (validate(data)) return [];
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
  const out: Diagnostic[] = [];
  for (const error of errors) {
    if (unresolved.has(error.instancePath)) continue;
    if (error.keyword === 'required' && misspelled.has(`${error.instancePath}\0${(error.params as { missingProperty: string }).missingProperty}`)) continue;
    const diagnostic = toDiagnostic(error, data, file, sourceMap, expanded);
    const key = `${diagnostic.path}\0${diagnostic.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(diagnostic);
  }
  return out;
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
      message = `must list at least ${limit} item${limit === 1 ? '' : 's'} (got an empty list)`;
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
