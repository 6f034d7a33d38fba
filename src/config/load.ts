// The front half of the pipeline, one function for every caller (validate, run, reload, plan,
// check): read → parse → expand ${VAR} → validate (schema, then cross-field rules) → read the
// certificates → compile → deep-freeze. I/O happens in the read steps only.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { readKeyPairFiles } from '../certs/key-pair.js';
import type { KeyPairFiles } from '../certs/key-pair.js';
import { FileReadCache, readCertificateDirectory, describeFsError } from '../certs/read.js';
import { hasErrors, sortDiagnostics } from '../diagnostics.js';
import type { Diagnostic } from '../diagnostics.js';
import { deepFreeze } from '../freeze.js';
import { compileConfig } from './compile.js';
import { parseJwks } from './jwks.js';
import { parseKeysFile } from './keys.js';
import { MAX_OPENAPI_FILE_BYTES, parseOpenApi } from './openapi.js';
import { clientCertificateAliases, isJwksUrl, openApiFileOf, securityOf } from './resolve.js';
import { interpolate } from './interpolate.js';
import type { Environment } from './interpolate.js';
import { formatOf, parseConfigText } from './parse.js';
import { YamlPieceCache } from './yaml-chunks.js';
import { Reporter } from './reporter.js';
import { SourceMap } from './source-map.js';
import type { Position } from './source-map.js';
import { checkRules } from './rules.js';
import { validateSchema } from './schema.js';
import type { GatewayConfig, GatewayDocument, JwksFile, KeysConfig, OpenApiDefinition } from './types.js';

/**
 * A configuration is a few kilobytes; a thousand APIs is about 250 KB. The cap also bounds the
 * parser's time on a hostile file (yaml parses about 1 MB a second on a slow machine).
 */
export const MAX_CONFIG_FILE_BYTES = 2 * 1024 * 1024;

export interface LoadOptions {
  /** Where ${VAR} references are read from. */
  readonly env: Environment;
  /** For certificate expiry; the current time by default. */
  readonly nowMs?: number;
  /** Reuse the validated document when the configuration's bytes did not change (reloads). */
  readonly cache?: DocumentCache;
  /**
   * Deep-freeze the configuration (the default). The reload's worker thread does not: what it
   * sends is a structured clone, frozen where it arrives (see delta.ts).
   */
  readonly freeze?: boolean;
}

export interface LoadResult {
  /** Present when there is no error (warnings allowed). Deep-frozen. */
  readonly config?: GatewayConfig;
  /** Sorted by file and position. */
  readonly diagnostics: readonly Diagnostic[];
}

/** The configuration file parsed, expanded and validated (schema and rules): everything but certificates. */
interface ValidatedDocument {
  readonly data: unknown;
  readonly sourceMap: SourceMap;
  /** Pointers of values that came from ${VAR}: messages quote them as written. */
  readonly expanded?: ReadonlySet<string>;
  /** Warnings, or the errors that stop the load. */
  readonly diagnostics: readonly Diagnostic[];
  /** Absent when there are errors. */
  readonly document?: GatewayDocument;
}

/**
 * The last configuration file validated, by the SHA-256 of its bytes. A reload caused by a
 * certificate (the common case) then skips parsing and validating a file that did not change;
 * content-addressed, so it never serves a stale document. The environment is the caller's,
 * fixed for the life of the cache.
 */
export class DocumentCache {
  /** The pieces of YAML parsed before: an edited file is parsed again piece by piece (yaml-chunks.ts). */
  readonly pieces = new YamlPieceCache();
  /** The certificate files read before: only those that changed are read again (certs/read.ts). */
  readonly certificateFiles: FileReadCache;
  /** The OpenAPI definitions of the last load, by path: one whose bytes did not change is not parsed again. */
  openApiFiles: ReadonlyMap<string, OpenApiRead> = new Map();

  /** racyMs: see FileReadCache (tests set 0 to trust files just written). */
  constructor({ racyMs }: { readonly racyMs?: number } = {}) {
    this.certificateFiles = new FileReadCache(racyMs === undefined ? {} : { racyMs });
  }
  #sha256: string | undefined;
  #entry: ValidatedDocument | undefined;

  get(sha256: string): ValidatedDocument | undefined {
    return sha256 === this.#sha256 ? this.#entry : undefined;
  }

  set(sha256: string, entry: ValidatedDocument): void {
    this.#sha256 = sha256;
    this.#entry = entry;
  }
}

export async function loadConfig(configPath: string, options: LoadOptions): Promise<LoadResult> {
  const file = path.resolve(configPath);
  const read = await readConfigFile(file);
  if ('error' in read) {
    return done([{ severity: 'error', code: 'CONFIG_READ', file, message: `cannot read the configuration: ${read.error}` }]);
  }
  const configSha256 = createHash('sha256').update(read.bytes).digest('hex');
  let validated = options.cache?.get(configSha256);
  if (!validated) {
    validated = validateDocument(file, read.bytes.toString('utf8'), options.env, options.cache?.pieces);
    if (validated.document) options.cache?.set(configSha256, validated);
  }
  const { document } = validated;
  if (!document) return done(validated.diagnostics);

  const reporter = new Reporter(file, validated.data, validated.sourceMap, validated.expanded);
  reporter.diagnostics.push(...validated.diagnostics);
  const certsDirectory = path.resolve(path.dirname(file), document.certs.directory);
  const certificates = await readCertificateDirectory(certsDirectory, options.cache?.certificateFiles);
  let listenerFiles: KeyPairFiles | undefined;
  if (document.listen.https) listenerFiles = await readKeyPairFiles(certsDirectory, document.listen.https.certificate);
  const clientFiles = new Map<string, KeyPairFiles>();
  for (const alias of clientCertificateAliases(document)) clientFiles.set(alias, await readKeyPairFiles(certsDirectory, alias));

  const keys = document.keys ? await readKeysFile(path.resolve(path.dirname(file), document.keys.file), reporter) : undefined;
  const jwksFiles = await readJwksFiles(file, document, reporter);
  const openApiFiles = await readOpenApiFiles(file, document, reporter, options.cache);

  const config = compileConfig(
    {
      file,
      document,
      certsDirectory,
      certificates,
      ...(listenerFiles ? { listenerFiles } : {}),
      ...(keys ? { keys } : {}),
      jwksFiles,
      openApiFiles,
      clientFiles,
      nowMs: options.nowMs ?? Date.now(),
      configSha256,
    },
    reporter,
  );
  return done(reporter.diagnostics, config, options);
}

/**
 * keys.file, read and parsed (config/keys.ts); its problems go to the reporter, naming the file
 * and the line. A keys file that cannot be read is an error, never an empty list: a gateway that
 * lost its keys must not start (or reload) refusing every caller while the old keys still work.
 */
async function readKeysFile(file: string, reporter: Reporter): Promise<KeysConfig | undefined> {
  const read = await readConfigFile(file, '');
  if ('error' in read) {
    reporter.fileDiagnostic('error', 'KEYS_FILE', file, `cannot read the keys file: ${read.error} (keys.file is relative to the configuration file's folder)`);
    return undefined;
  }
  const parsed = parseKeysFile(read.bytes.toString('utf8'), file);
  reporter.diagnostics.push(...parsed.diagnostics);
  if (!parsed.entries) return undefined;
  return { file, sha256: createHash('sha256').update(read.bytes).digest('hex'), entries: parsed.entries };
}

/**
 * The JWKS files the APIs' security.jwt names (a URL is fetched by the gateway, not here), by
 * absolute path; each problem goes to the reporter at its line. Like the keys file, a JWKS file
 * that cannot be read stops the load: the old keys keep verifying tokens.
 */
async function readJwksFiles(file: string, document: GatewayDocument, reporter: Reporter): Promise<Map<string, JwksFile>> {
  const files = new Map<string, JwksFile>();
  const seen = new Set<string>();
  for (let i = 0; i < document.apis.length; i++) {
    const jwks = securityOf(document, i).security?.jwt?.jwks;
    if (jwks === undefined || isJwksUrl(jwks)) continue;
    const absolute = path.resolve(path.dirname(file), jwks);
    if (seen.has(absolute)) continue;
    seen.add(absolute);
    const read = await readConfigFile(absolute, '');
    if ('error' in read) {
      reporter.fileDiagnostic('error', 'JWKS_FILE', absolute, `cannot read the JWKS file: ${read.error} (security.jwt.jwks is relative to the configuration file's folder)`);
      continue;
    }
    const parsed = parseJwks(read.bytes.toString('utf8'), absolute);
    reporter.diagnostics.push(...parsed.diagnostics);
    if (parsed.set) files.set(absolute, { kind: 'file', file: absolute, sha256: createHash('sha256').update(read.bytes).digest('hex'), set: parsed.set });
  }
  return files;
}

/** A definition read: its bytes' SHA-256, and what parsing it gave (config/openapi.ts). */
interface OpenApiRead {
  readonly sha256: string;
  readonly definition?: OpenApiDefinition;
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * The OpenAPI definitions the APIs' resources.openapi name, by absolute path; each problem goes
 * to the reporter, naming the definition's file and line. One that cannot be read or is not
 * valid stops the load, as a keys file does: the old resources keep serving.
 */
async function readOpenApiFiles(file: string, document: GatewayDocument, reporter: Reporter, cache: DocumentCache | undefined): Promise<Map<string, OpenApiDefinition>> {
  const definitions = new Map<string, OpenApiDefinition>();
  const reads = new Map<string, OpenApiRead>();
  for (const api of document.apis) {
    const from = openApiFileOf(api);
    if (from === undefined) continue;
    const absolute = path.resolve(path.dirname(file), from);
    if (reads.has(absolute)) continue;
    const read = await readConfigFile(absolute, '', MAX_OPENAPI_FILE_BYTES);
    if ('error' in read) {
      reporter.fileDiagnostic('error', 'OPENAPI_FILE', absolute, `cannot read the OpenAPI definition: ${read.error} (resources.openapi is relative to the configuration file's folder)`);
      reads.set(absolute, { sha256: '', diagnostics: [] });
      continue;
    }
    const sha256 = createHash('sha256').update(read.bytes).digest('hex');
    const before = cache?.openApiFiles.get(absolute);
    let parsed = before?.sha256 === sha256 ? before : undefined;
    if (!parsed) {
      const { definition, diagnostics } = await parseOpenApi(read.bytes.toString('utf8'), absolute);
      parsed = { sha256, diagnostics, ...(definition ? { definition: { file: absolute, sha256, ...definition } } : {}) };
    }
    reads.set(absolute, parsed);
    reporter.diagnostics.push(...parsed.diagnostics);
    if (parsed.definition) definitions.set(absolute, parsed.definition);
  }
  if (cache) cache.openApiFiles = reads;
  return definitions;
}

/** Parse → ${VAR} → schema → rules: the stages that depend on the configuration file only. */
function validateDocument(file: string, text: string, env: Environment, pieces?: YamlPieceCache): ValidatedDocument {
  const parsed = parseConfigText(text, file, formatOf(file), pieces);
  if (!parsed.ok) return { data: undefined, sourceMap: new SourceMap(), diagnostics: parsed.diagnostics };

  const expanded = interpolate(parsed.data, env);
  const reporter = new Reporter(file, expanded.data, parsed.sourceMap, expanded.expanded);
  for (const problem of expanded.problems) reporter.error('CONFIG_ENV_UNSET', problem.pointer, problem.message);
  reporter.diagnostics.push(
    ...validateSchema(expanded.data, file, parsed.sourceMap, {
      unresolved: new Set(expanded.problems.map((p) => p.pointer)),
      expanded: expanded.expanded,
      references: expanded.references,
    }),
  );
  const base = { data: expanded.data, sourceMap: parsed.sourceMap, expanded: expanded.expanded };
  if (hasErrors(reporter.diagnostics)) return { ...base, diagnostics: reporter.diagnostics };

  const document = expanded.data as GatewayDocument;
  checkRules(document, reporter);
  if (hasErrors(reporter.diagnostics)) return { ...base, diagnostics: reporter.diagnostics };
  return { ...base, diagnostics: reporter.diagnostics, document };
}

/**
 * Where `pointer` is written in the configuration file as it is now, for a message about a value
 * found wrong only when used (a listener's address already taken); undefined when it is not
 * written (a default) or the file no longer parses. Costs a read and a parse: for failures only.
 */
export async function locateInConfig(file: string, pointer: string): Promise<Position | undefined> {
  const read = await readConfigFile(file);
  if ('error' in read) return undefined;
  const parsed = parseConfigText(read.bytes.toString('utf8'), file, formatOf(file));
  return parsed.ok && parsed.sourceMap.has(pointer) ? parsed.sourceMap.locate(pointer, 'value') : undefined;
}

function done(diagnostics: readonly Diagnostic[], config?: GatewayConfig, { freeze = true }: Pick<LoadOptions, 'freeze'> = {}): LoadResult {
  if (!config) return { diagnostics: sortDiagnostics(diagnostics) };
  return { config: freeze ? deepFreeze(config) : config, diagnostics: sortDiagnostics(diagnostics) };
}

/** `missing`: what the message adds when the file does not exist. */
async function readConfigFile(file: string, missing = ' (pass the file with -c, or run from its folder)', maxBytes = MAX_CONFIG_FILE_BYTES): Promise<{ bytes: Buffer } | { error: string }> {
  try {
    // O_NONBLOCK: a named pipe in the file's place must not wait for a writer (forever); it is
    // then refused below as not a regular file. No effect on regular files; absent on Windows.
    const handle = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) return { error: stat.isDirectory() ? 'it is a folder, not a file' : 'it is not a regular file' };
      if (stat.size > maxBytes) return { error: `it is ${stat.size} bytes, above the limit of ${maxBytes}` };
      return { bytes: await handle.readFile() };
    } finally {
      await handle.close();
    }
  } catch (e) {
    const reason = describeFsError(e);
    return { error: (e as NodeJS.ErrnoException).code === 'ENOENT' ? `${reason}${missing}` : reason };
  }
}
