// The front half of the pipeline, one function for every caller (validate, run, reload, plan,
// check): read → parse → expand ${VAR} → validate (schema, then cross-field rules) → read the
// certificates → compile → deep-freeze. I/O happens in the read steps only.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { readListenerFiles } from '../certs/listener.js';
import type { ListenerFiles } from '../certs/listener.js';
import { readCertificateDirectory, describeFsError } from '../certs/read.js';
import { hasErrors, sortDiagnostics } from '../diagnostics.js';
import type { Diagnostic } from '../diagnostics.js';
import { deepFreeze } from '../freeze.js';
import { compileConfig } from './compile.js';
import { interpolate } from './interpolate.js';
import type { Environment } from './interpolate.js';
import { formatOf, parseConfigText } from './parse.js';
import { Reporter } from './reporter.js';
import { checkRules } from './rules.js';
import { validateSchema } from './schema.js';
import type { GatewayConfig, GatewayDocument } from './types.js';

/** A configuration is a few kilobytes; a thousand APIs is well under a megabyte. */
export const MAX_CONFIG_FILE_BYTES = 8 * 1024 * 1024;

export interface LoadOptions {
  /** Where ${VAR} references are read from. */
  readonly env: Environment;
  /** For certificate expiry; the current time by default. */
  readonly nowMs?: number;
}

export interface LoadResult {
  /** Present when there is no error (warnings allowed). Deep-frozen. */
  readonly config?: GatewayConfig;
  /** Sorted by file and position. */
  readonly diagnostics: readonly Diagnostic[];
}

export async function loadConfig(configPath: string, options: LoadOptions): Promise<LoadResult> {
  const file = path.resolve(configPath);
  const read = await readConfigFile(file);
  if ('error' in read) {
    return done([{ severity: 'error', code: 'CONFIG_READ', file, message: `cannot read the configuration: ${read.error}` }]);
  }
  const text = read.bytes.toString('utf8');
  const parsed = parseConfigText(text, file, formatOf(file));
  if (!parsed.ok) return done(parsed.diagnostics);

  const expanded = interpolate(parsed.data, options.env);
  const reporter = new Reporter(file, expanded.data, parsed.sourceMap);
  for (const problem of expanded.problems) reporter.error('CONFIG_ENV_UNSET', problem.pointer, problem.message);
  reporter.diagnostics.push(
    ...validateSchema(expanded.data, file, parsed.sourceMap, {
      unresolved: new Set(expanded.problems.map((p) => p.pointer)),
      expanded: expanded.expanded,
    }),
  );
  if (hasErrors(reporter.diagnostics)) return done(reporter.diagnostics);

  const document = expanded.data as GatewayDocument;
  checkRules(document, reporter);
  if (hasErrors(reporter.diagnostics)) return done(reporter.diagnostics);

  const certsDirectory = path.resolve(path.dirname(file), document.certs.directory);
  const certificates = await readCertificateDirectory(certsDirectory);
  let listenerFiles: ListenerFiles | undefined;
  if (document.listen.https) listenerFiles = await readListenerFiles(certsDirectory, document.listen.https.certificate);

  const config = compileConfig(
    {
      file,
      document,
      certsDirectory,
      certificates,
      ...(listenerFiles ? { listenerFiles } : {}),
      nowMs: options.nowMs ?? Date.now(),
      configSha256: createHash('sha256').update(read.bytes).digest('hex'),
    },
    reporter,
  );
  return done(reporter.diagnostics, config);
}

function done(diagnostics: readonly Diagnostic[], config?: GatewayConfig): LoadResult {
  return config ? { config: deepFreeze(config), diagnostics: sortDiagnostics(diagnostics) } : { diagnostics: sortDiagnostics(diagnostics) };
}

async function readConfigFile(file: string): Promise<{ bytes: Buffer } | { error: string }> {
  try {
    const handle = await open(file, 'r');
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) return { error: stat.isDirectory() ? 'it is a folder, not a file' : 'it is not a regular file' };
      if (stat.size > MAX_CONFIG_FILE_BYTES) return { error: `it is ${stat.size} bytes, above the limit of ${MAX_CONFIG_FILE_BYTES}` };
      return { bytes: await handle.readFile() };
    } finally {
      await handle.close();
    }
  } catch (e) {
    const reason = describeFsError(e);
    return { error: (e as NodeJS.ErrnoException).code === 'ENOENT' ? `${reason} (pass the file with -c, or run from its folder)` : reason };
  }
}
