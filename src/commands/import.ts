// gatehouse import wso2 <project folder | deployment folder | .zip> [--out DIR] [--env NAME] [--project DIR] [--force] [--dry-run]
// An API exported by WSO2 API Manager's apictl becomes an entry of gateway.yaml, one
// certs/<alias>.crt per endpoint certificate and, when it has one, its definition in
// definitions/ (SPEC §12). src/import/ reads and converts; this module decides what to write,
// refuses to overwrite what differs (unless --force), writes, validates the result (and puts
// every file back as it was if it does not validate), and prints the plan.
import { readFile, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { isMap, isSeq, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { EXIT_FAILED, EXIT_OK, UsageError, parseCommandArgs } from '../cli/io.js';
import type { CommandIo } from '../cli/io.js';
import { writeFileAtomic } from '../certs/write.js';
import { readCertsFolderSetting } from '../config/certs-folder.js';
import { diffConfigs } from '../config/diff.js';
import { loadConfig } from '../config/load.js';
import { summarizeConfig } from '../config/summary.js';
import type { ConfigSummary } from '../config/summary.js';
import { displayPath, formatText, hasErrors } from '../diagnostics.js';
import { ArchiveError, unpackZip } from '../import/archive.js';
import { DEFINITIONS_FOLDER, ImportError, importWso2 } from '../import/wso2.js';
import type { ImportedApi } from '../import/wso2.js';
import { plural } from '../text.js';
import { renderPlan } from './plan.js';

export const IMPORT_USAGE = `Usage: gatehouse import wso2 <project folder | deployment folder | export.zip> [--out DIR] [--env NAME] [--project DIR] [--force] [--dry-run]

Brings in an API exported by WSO2 API Manager's apictl (4.x projects, and 3.x projects with
Meta-information/): writes its entry into DIR/gateway.yaml (created when absent; other APIs and
comments are kept), one <alias>.crt per endpoint certificate into the certificates folder, and
its OpenAPI/Swagger definition into ${DEFINITIONS_FOLDER}/, which the entry's resources name.
Then prints what was not carried over (mediation, policies, tiers, scopes…, each with where it
was found) and what \`gatehouse plan\` shows for the change.

- A deployment folder (apictl gen deployment-dir: api_meta.yaml, params.yaml, certificates/) is
  read with the project it was made from: the folder beside it that api_meta.yaml names, or
  --project. Its params.yaml (or a 3.x api_params.yaml in the project) overrides the endpoints
  and adds certificates for the environment --env names; \${VAR} in it stays \${VAR}.
- Running the same import again changes nothing. A file or an API entry that exists and
  differs is not overwritten without --force; nothing is written when one would be.
- The result is validated before the command succeeds; when it does not validate, every file is
  put back as it was.

Options:
  --out DIR        the folder of gateway.yaml (default: the current folder)
  --env NAME       the environment of params.yaml / api_params.yaml (needed when it has several)
  --project DIR    the apictl project a deployment folder was made from
  --force          replace an existing API entry or file that differs
  --dry-run        show what would be written, and write nothing

Exit code: 0 imported (or nothing to do), 1 refused or not valid, 2 usage error.
`;

/** A file the import writes, and what is there now. */
interface PlannedFile {
  readonly file: string;
  readonly text: string;
  /** For the listing: "certificate pizza-prod (production)". */
  readonly what: string;
  readonly before: string | undefined;
}

export async function importCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    out: { type: 'string' },
    env: { type: 'string' },
    project: { type: 'string' },
    force: { type: 'boolean', default: false },
    'dry-run': { type: 'boolean', default: false },
  });
  const [kind, source, ...rest] = positionals;
  if (kind !== 'wso2') throw new UsageError(kind === undefined ? 'say what to import: gatehouse import wso2 <folder | .zip>' : `unknown source kind "${kind}" (wso2)`);
  if (source === undefined) throw new UsageError('name the apictl project folder, deployment folder or .zip');
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);

  const out = path.resolve(io.cwd, values.out ?? '.');
  const configPath = path.join(out, 'gateway.yaml');
  const sourcePath = path.resolve(io.cwd, source);

  let imported: ImportedApi;
  const unpacked = sourcePath.toLowerCase().endsWith('.zip') ? await unpack(sourcePath, io) : undefined;
  if (unpacked === null) return EXIT_FAILED;
  try {
    imported = await importWso2(unpacked?.folder ?? sourcePath, {
      ...(values.env !== undefined ? { environment: values.env } : {}),
      ...(values.project !== undefined ? { project: path.resolve(io.cwd, values.project) } : {}),
      sourceLabel: displayPath(sourcePath, io.cwd),
    });
  } catch (e) {
    if (!(e instanceof ImportError)) throw e;
    io.stderr.write(`gatehouse import: ${e.message}\n`);
    return EXIT_FAILED;
  } finally {
    await unpacked?.remove();
  }

  const certsFolder = await readCertsFolderSetting(configPath, io.env);
  if ('error' in certsFolder) {
    if (certsFolder.diagnostics) io.stderr.write(formatText(certsFolder.diagnostics, io.cwd));
    io.stderr.write(`gatehouse import: ${displayPath(configPath, io.cwd)}: ${certsFolder.error}; fix it first (gatehouse validate)\n`);
    return EXIT_FAILED;
  }

  // Everything is decided before the first write.
  const configBefore = await readText(configPath);
  const merged = mergeApi(configBefore, imported, values.force);
  if ('error' in merged) {
    io.stderr.write(`gatehouse import: ${displayPath(configPath, io.cwd)}: ${merged.error}\n`);
    return EXIT_FAILED;
  }
  const planned: PlannedFile[] = [];
  for (const certificate of imported.certificates) {
    const file = path.join(certsFolder.directory, `${certificate.alias}.crt`);
    planned.push({ file, text: certificate.pem, what: `certificate ${certificate.alias} (from ${certificate.from})`, before: await readText(file) });
  }
  if (imported.definition) {
    const file = path.join(out, DEFINITIONS_FOLDER, imported.definition.fileName);
    planned.push({ file, text: imported.definition.text, what: `definition (from ${imported.definition.from})`, before: await readText(file) });
  }
  planned.push({ file: configPath, text: merged.text, what: `${imported.name} ${imported.version} ${merged.action === 'add' ? 'added to' : merged.action === 'replace' ? 'replaced in' : 'already in'} ${configBefore === undefined ? 'a new file' : 'the file'}`, before: configBefore });

  const conflicts = [...planned.filter((p) => p.file !== configPath && p.before !== undefined && p.before !== p.text && !values.force).map((p) => `${displayPath(p.file, io.cwd)} exists and differs (${p.what})`), ...(merged.conflict ? [merged.conflict] : [])];
  if (conflicts.length > 0) {
    io.stderr.write(`gatehouse import: nothing was written:\n${conflicts.map((c) => `  ${c}\n`).join('')}Compare them, then run again with --force to replace them.\n`);
    return EXIT_FAILED;
  }

  const writes = planned.filter((p) => p.before !== p.text);
  io.stdout.write(`Importing ${imported.name} ${imported.version} from ${imported.sourceDescription}\n\n`);
  for (const p of planned) io.stdout.write(`  ${p.before === p.text ? '=' : p.before === undefined ? '+' : '~'} ${displayPath(p.file, io.cwd)}  ${p.what}\n`);
  io.stdout.write(renderNotCarried(imported));
  if (writes.length === 0) {
    io.stdout.write(`\nNothing to do: ${imported.name} ${imported.version} is imported already, and every file is as the import would write it.\n`);
    return EXIT_OK;
  }
  if (values['dry-run']) {
    io.stdout.write(`\n--dry-run: ${plural(writes.length, 'file')} would be written; nothing was.\n`);
    return EXIT_OK;
  }

  const beforeSummary = configBefore === undefined ? undefined : await summaryOf(configPath, io);
  // The folders the writes create, so that putting things back leaves none behind.
  const created = await missingFolders(writes.map((p) => path.dirname(p.file)));
  for (const p of writes) await writeFileAtomic(p.file, p.text, { replace: p.before !== undefined });

  // The result must load as `gatehouse run` would load it; a ${VAR} the import wrote and this
  // shell does not set is given a stand-in for the check only (it is said below).
  const unset = imported.variables.filter((name) => io.env[name] === undefined);
  const standIns = Object.fromEntries(unset.map((name) => [name, imported.variableStandIns[name] ?? 'stand-in']));
  const loaded = await loadConfig(configPath, { env: { ...io.env, ...standIns } });
  if (!loaded.config || hasErrors(loaded.diagnostics)) {
    for (const p of writes) await (p.before === undefined ? unlink(p.file).catch(() => undefined) : writeFileAtomic(p.file, p.before, { replace: true }));
    for (const folder of created.reverse()) await rmdir(folder).catch(() => undefined);
    io.stderr.write(formatText(loaded.diagnostics, io.cwd));
    io.stderr.write(`gatehouse import: the result does not validate; every file was put back as it was\n`);
    return EXIT_FAILED;
  }
  if (unset.length > 0) io.stdout.write(`\nSet ${unset.join(', ')} before \`gatehouse run\`: the imported entry reads ${unset.length === 1 ? 'it' : 'them'} from the environment (checked here with a stand-in value).\n`);
  const after = summarizeConfig(loaded.config);
  io.stdout.write('\n');
  io.stdout.write(
    renderPlan(
      displayPath(configPath, io.cwd),
      {
        summary: beforeSummary,
        description: beforeSummary ? 'the file before the import' : configBefore === undefined ? 'nothing (a new file): everything would be created' : 'nothing (the file before the import did not load): everything would be created',
      },
      after,
      diffConfigs(beforeSummary, after),
      Date.now(),
    ),
  );
  return EXIT_OK;
}

async function unpack(file: string, io: CommandIo): Promise<{ folder: string; remove(): Promise<void> } | null> {
  try {
    return await unpackZip(file);
  } catch (e) {
    if (!(e instanceof ArchiveError)) throw e;
    io.stderr.write(`gatehouse import: ${e.message}\n`);
    return null;
  }
}

/** Of these folders and their parents, those that do not exist, parents first. */
async function missingFolders(folders: readonly string[]): Promise<string[]> {
  const missing = new Set<string>();
  for (const folder of folders) {
    for (let f = folder; f !== path.dirname(f); f = path.dirname(f)) {
      try {
        await stat(f);
        break;
      } catch {
        missing.add(f);
      }
    }
  }
  return [...missing].sort((a, b) => a.length - b.length);
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function summaryOf(configPath: string, io: CommandIo): Promise<ConfigSummary | undefined> {
  const loaded = await loadConfig(configPath, { env: io.env });
  return loaded.config ? summarizeConfig(loaded.config) : undefined;
}

type Merge = { readonly text: string; readonly action: 'add' | 'replace' | 'same'; readonly conflict?: string } | { readonly error: string };

/**
 * gateway.yaml with the API's entry: appended, replaced (with --force), or left as it is when
 * the entry written there is the same. The rest of the file, comments included, is kept as it
 * is (yaml's Document keeps them).
 */
export function mergeApi(text: string | undefined, imported: ImportedApi, force: boolean): Merge {
  if (text === undefined) {
    const doc = parseDocument('version: 1\napis: []\n');
    doc.commentBefore = ` Written by \`gatehouse import wso2\`; docs/configuration.md describes every key.`;
    doc.setIn(['apis'], doc.createNode([imported.entry]));
    return { text: doc.toString({ lineWidth: 0 }), action: 'add' };
  }
  const doc: Document = parseDocument(text);
  if (doc.errors.length > 0) return { error: `it does not parse (${doc.errors[0]!.message.split('\n')[0]}); fix it first (gatehouse validate)` };
  if (!isMap(doc.contents)) return { error: 'it is not a map of settings; fix it first (gatehouse validate)' };
  let apis = doc.get('apis', true);
  if (apis === undefined || apis === null || (!isSeq(apis) && (apis as { value?: unknown }).value === null)) {
    doc.set('apis', doc.createNode([]));
    apis = doc.get('apis', true);
  }
  if (!isSeq(apis)) return { error: 'apis is not a list; fix it first (gatehouse validate)' };
  // `apis: []` is a flow list: written as it is, the entry would be one long line.
  if (apis.flow && apis.items.length === 0) apis.flow = false;
  const index = apis.items.findIndex((item) => {
    const api = (item as { toJSON?: () => unknown }).toJSON?.() as Record<string, unknown> | undefined;
    return api?.name === imported.name && String(api.version) === imported.version;
  });
  if (index === -1) {
    apis.items.push(doc.createNode(imported.entry));
    return { text: doc.toString({ lineWidth: 0 }), action: 'add' };
  }
  const existing = (apis.items[index] as { toJSON: () => unknown }).toJSON();
  if (isDeepStrictEqual(existing, imported.entry)) return { text, action: 'same' };
  if (!force) return { text, action: 'same', conflict: `apis[${index}] (${imported.name} ${imported.version}) exists and differs from the import` };
  apis.items[index] = doc.createNode(imported.entry);
  return { text: doc.toString({ lineWidth: 0 }), action: 'replace' };
}

function renderNotCarried(imported: ImportedApi): string {
  if (imported.notCarried.length === 0) return '\nEverything the export says about the gateway was carried over.\n';
  const lines = [`\nNot carried over (${imported.notCarried.length}): Gatehouse does not do these, or does them another way (docs/migrate/wso2.md):`];
  for (const item of imported.notCarried) lines.push(`  - ${item.what}  [${item.where}]`);
  return `${lines.join('\n')}\n`;
}
