// API keys (SPEC §11, docs/security.md): the keys file, read into entries with a diagnostic per
// problem at its line, and the key ring a request's key is looked up in. The file holds the
// SHA-256 of each key, never a key: it can live in git, and a copy of it lets nobody call an API.
//
// Validated against schemas/keys.schema.json (ajv), then the rules the schema cannot say: names
// and hashes unique. A sha256 value is never quoted in a message: when someone pasted a key in
// its place, the message would print the key.
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Diagnostic } from '../diagnostics.js';
import { parseConfigText } from './parse.js';
import { childPointer, isRecord } from './source-map.js';
import type { SourceMap } from './source-map.js';

export type KeyType = 'production' | 'sandbox';

export interface ApiKeyEntry {
  readonly name: string;
  /** Lowercase hex SHA-256 of the key's UTF-8 bytes. */
  readonly sha256: string;
  readonly type: KeyType;
  /** API names (every version of each). */
  readonly apis: readonly string[];
  readonly plan?: string;
  /** Where the entry is written, for messages about it (an API or a plan it names that does not exist). */
  readonly line?: number;
}

/** The prefix of the keys `gatehouse key new` makes: secret scanners and people can tell one at a glance. */
export const KEY_PREFIX = 'ghk_';

export const KEYS_SCHEMA_URL = new URL('../../schemas/keys.schema.json', import.meta.url);

let compiled: ValidateFunction | undefined;
function validator(): ValidateFunction {
  if (compiled) return compiled;
  // verbose: the schema of each error, whose patternErrorMessage says what a value may hold.
  const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
  ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
  compiled = ajv.compile(JSON.parse(readFileSync(KEYS_SCHEMA_URL, 'utf8')) as object);
  return compiled;
}

/** The lowercase hex SHA-256 of a key, as the keys file holds it. */
export function hashApiKey(key: string): string {
  return hash('sha256', key, 'hex');
}

/** A fresh key: 32 random bytes (256 bits), base64url, after KEY_PREFIX. */
export function newApiKey(): { readonly key: string; readonly sha256: string } {
  const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { key, sha256: hashApiKey(key) };
}

/** The entries of a keys file's text; `file` names it in the diagnostics. Entries only when there is no error. */
export function parseKeysFile(text: string, file: string): { readonly entries?: readonly ApiKeyEntry[]; readonly diagnostics: readonly Diagnostic[] } {
  const parsed = parseConfigText(text, file, 'yaml');
  if (!parsed.ok) return { diagnostics: parsed.diagnostics };
  // An empty file is an empty list: no key is accepted (a file emptied on purpose, or not yet written).
  const data = parsed.data ?? [];
  const { sourceMap } = parsed;
  const at = (pointer: string, prefer: 'key' | 'value' = 'value') => sourceMap.locate(pointer, prefer) ?? {};
  const problem = (pointer: string, message: string, prefer: 'key' | 'value' = 'value'): Diagnostic => ({ severity: 'error', code: 'KEYS_FILE', file, ...at(pointer, prefer), message });

  const validate = validator();
  if (!validate(data)) return { diagnostics: (validate.errors ?? []).map((e) => problem(e.instancePath, schemaMessage(e, data, sourceMap), e.keyword === 'required' || e.keyword === 'additionalProperties' ? 'key' : 'value')) };

  const entries = data as ApiKeyEntry[];
  const diagnostics: Diagnostic[] = [];
  const names = new Map<string, number>();
  const hashes = new Map<string, number>();
  entries.forEach((entry, index) => {
    const pointer = childPointer('', index);
    const first = names.get(entry.name);
    if (first !== undefined) diagnostics.push(problem(`${pointer}/name`, `the name "${entry.name}" is also entry ${first + 1}'s: each key has its own name (the log and the metrics tell keys apart by it)`));
    else names.set(entry.name, index);
    const same = hashes.get(entry.sha256);
    if (same !== undefined) diagnostics.push(problem(`${pointer}/sha256`, `the same key as entry ${same + 1} ("${entries[same]!.name}"): one key, one entry`));
    else hashes.set(entry.sha256, index);
  });
  if (diagnostics.length > 0) return { diagnostics };
  return { entries: entries.map((entry, index) => ({ ...entry, apis: [...entry.apis], line: sourceMap.locate(childPointer('', index), 'value')?.line })), diagnostics };
}

/** One sentence for an ajv error of the keys schema, naming the entry; never the value of a sha256. */
function schemaMessage(error: ErrorObject, data: unknown, sourceMap: SourceMap): string {
  const segments = error.instancePath.split('/').slice(1);
  const entry = segments[0] === undefined ? 'the file' : `entry ${Number(segments[0]) + 1}${entryName(data, Number(segments[0]))}`;
  const field = segments[1];
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'type':
      if (segments.length === 0) return 'the keys file is a list of entries ({ name, sha256, type, apis, plan }), one per key';
      if (segments.length === 1) return `${entry} must be a map: { name, sha256, type, apis }`;
      return `${entry}: ${segments.slice(1).join('.')} must be a ${params.type === 'array' ? 'list' : String(params.type)}`;
    case 'required':
      return `${entry}: "${String(params.missingProperty)}" is missing (each entry has name, sha256, type and apis)`;
    case 'additionalProperties':
      return `${entry}: unknown key "${String(params.additionalProperty)}" (known: name, sha256, type, apis, plan)`;
    case 'enum':
      return `${entry}: type must be production or sandbox (got ${JSON.stringify(sourceMap.text(error.instancePath) ?? valueAt(data, segments))})`;
    case 'pattern':
      if (field === 'sha256') {
        const written = String(valueAt(data, segments));
        const hint = written.startsWith(KEY_PREFIX) ? ': this is a key itself; write its SHA-256 here and keep the key out of the file' : ' (`gatehouse key new` prints one)';
        return `${entry}: sha256 must be 64 lowercase hex digits, the SHA-256 of the key${hint}`;
      }
      return `${entry}: ${field} may hold ${String((error.parentSchema as { patternErrorMessage?: string }).patternErrorMessage)}`;
    case 'minItems':
      return `${entry}: apis lists no API: name one at least (a key for no API is a key nobody needs)`;
    case 'minLength':
      return `${entry}: ${segments.slice(1).join('.')} is empty`;
    case 'maxLength':
      return `${entry}: ${field} is longer than ${String(params.limit)} characters`;
    default:
      return `${entry}: ${error.message ?? 'invalid'}`;
  }
}

function entryName(data: unknown, index: number): string {
  const entry = Array.isArray(data) ? (data[index] as unknown) : undefined;
  return isRecord(entry) && typeof entry.name === 'string' ? ` ("${entry.name}")` : '';
}

function valueAt(data: unknown, segments: readonly string[]): unknown {
  let node = data;
  for (const segment of segments) node = Array.isArray(node) ? (node[Number(segment)] as unknown) : isRecord(node) ? node[segment] : undefined;
  return node;
}

/**
 * The keys a gateway accepts, looked up by the SHA-256 of the key presented. A map from hash to
 * entry, then a constant-time comparison of the two digests: the lookup's timing depends on the
 * hash of what the client sent, which tells it nothing about any key (finding a key from its
 * hash is what SHA-256 makes infeasible); no comparison ever runs on the key's own bytes.
 */
export class KeyRing {
  readonly #byHash: ReadonlyMap<string, KeyRecord>;

  constructor(entries: readonly ApiKeyEntry[]) {
    this.#byHash = new Map(entries.map((entry) => [entry.sha256, { entry, apis: new Set(entry.apis), digest: Buffer.from(entry.sha256, 'hex'), caller: { apiKey: entry.name, ...(entry.plan !== undefined ? { plan: entry.plan } : {}), subject: `key:${entry.name}` } }]));
  }

  get size(): number {
    return this.#byHash.size;
  }

  /** The entry of `key`, or undefined when no entry holds its hash. */
  find(key: string): KeyRecord | undefined {
    // crypto.hash: one call, no Hash object (Node 20.12+): half the cost of createHash here.
    const digest = hash('sha256', key, 'buffer');
    const found = this.#byHash.get(digest.toString('hex'));
    return found && timingSafeEqual(found.digest, digest) ? found : undefined;
  }
}

/** An entry as the key ring holds it: its APIs as a set, looked up per request. */
export interface KeyRecord {
  readonly entry: ApiKeyEntry;
  readonly apis: ReadonlySet<string>;
  readonly digest: Buffer;
  /** Who the access line says called, and what rate limits count it by: built once, not per request. */
  readonly caller: { readonly apiKey: string; readonly plan?: string; readonly subject: string };
}
