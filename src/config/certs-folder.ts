// Where a configuration keeps its certificates, read from the document as written, for the
// commands that must work when the configuration does not load: `cert fetch` renewing the very
// certificate whose expiry makes it fail, `cert import` of an alias it waits for. The default is
// the schema's, not a copy of it.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeFsError } from '../certs/read.js';
import type { Diagnostic } from '../diagnostics.js';
import { interpolate } from './interpolate.js';
import type { Environment } from './interpolate.js';
import { formatOf, parseConfigText } from './parse.js';
import { schema } from './schema.js';
import { isRecord } from './source-map.js';

export type CertsFolderSetting =
  /** `configMissing`: there is no configuration file; the folder is the default one beside where it would be. */
  | { readonly directory: string; readonly configMissing: boolean }
  | { readonly error: string; readonly diagnostics?: readonly Diagnostic[] };

/** certs.directory's default, from the schema. */
export const DEFAULT_CERTS_DIRECTORY = String(schema.properties?.certs?.properties?.directory?.default);

export async function readCertsFolderSetting(configFile: string, env: Environment): Promise<CertsFolderSetting> {
  const folder = path.dirname(configFile);
  let text: string;
  try {
    text = await readFile(configFile, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { directory: path.resolve(folder, DEFAULT_CERTS_DIRECTORY), configMissing: true };
    return { error: `cannot read it: ${describeFsError(e)}` };
  }
  const parsed = parseConfigText(text, configFile, formatOf(configFile));
  if (!parsed.ok) return { error: 'it does not parse', diagnostics: parsed.diagnostics };
  const expanded = interpolate(parsed.data, env);
  const problem = expanded.problems.find((p) => p.pointer === '/certs/directory');
  if (problem) return { error: `certs.directory: ${problem.message}` };
  const certs = isRecord(expanded.data) ? expanded.data.certs : undefined;
  const directory = isRecord(certs) ? certs.directory : undefined;
  if (directory === undefined) return { directory: path.resolve(folder, DEFAULT_CERTS_DIRECTORY), configMissing: false };
  if (typeof directory !== 'string' || directory === '') return { error: 'certs.directory must be a folder name (run gatehouse validate)' };
  return { directory: path.resolve(folder, directory), configMissing: false };
}
