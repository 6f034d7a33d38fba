// gatehouse cert import <keystore> [--password P] [-c gateway.yaml | --out DIR] [--alias NAME]... [--force] [--dry-run]
// A Java truststore (JKS, JCEKS) or a PKCS#12 file → one PEM file per certificate in the
// certificates folder, named by alias. Everything is checked before the first file is written:
// the password, every certificate, every name, every existing file.
import { X509Certificate } from 'node:crypto';
import { open, readdir } from 'node:fs/promises';
import path from 'node:path';
import { EXIT_FAILED, EXIT_OK, UsageError, configFile, parseCommandArgs } from '../cli/io.js';
import type { CommandIo } from '../cli/io.js';
import { formatTable } from '../cli/table.js';
import { MAX_KEYSTORE_FILE_BYTES, parseKeystore, safeAlias } from '../certs/keystore.js';
import type { KeystoreEntry } from '../certs/keystore.js';
import { certificateLabel, commonNameOf, describeCertificate } from '../certs/parse.js';
import { CERTIFICATE_EXTENSIONS, describeFsError } from '../certs/read.js';
import type { CertificateInfo } from '../certs/types.js';
import { writeFileAtomic } from '../certs/write.js';
import { readCertsFolderSetting } from '../config/certs-folder.js';
import { displayPath, formatText } from '../diagnostics.js';
import { plural } from '../text.js';

export const PASSWORD_VARIABLE = 'GATEHOUSE_KEYSTORE_PASSWORD';

export const CERT_IMPORT_USAGE = `Usage: gatehouse cert import <keystore> [--password P] [-c gateway.yaml | --out DIR] [--alias NAME]... [--force] [--dry-run]

Writes each certificate of a Java keystore (JKS, JCEKS) or a PKCS#12 file (.p12, .pfx) as
<alias>.crt (PEM) in the certificates folder, and prints alias, subject, expiry and SHA-256
fingerprint of each. The format is read from the content: a .jks that keytool wrote as PKCS#12
(its default since Java 9) is imported too.

- A trusted certificate entry is written as it is.
- A private-key entry: only its own certificate is written (what Java's trust managers trust of
  it), never the key, nor the rest of its chain (import a CA as a trusted entry to trust it).
- PKCS#12: every certificate in the file, named by its friendlyName, else by its subject's CN.
- Aliases are made safe: lower-case letters, digits, '.', '_' and '-' (keytool's "Orders Backend"
  becomes orders-backend).

Nothing is written when any file exists already (unless --force) or any entry cannot be read.

Options:
  --password P        the keystore password. Or set ${PASSWORD_VARIABLE}, which keeps
                      it out of the shell history and the process list. Without either, a
                      JKS is read without its integrity check (as keytool -list does) and a
                      PKCS#12 file with the empty password.
  -c, --config FILE   the configuration whose certs.directory receives the files (default:
                      gateway.yaml; without that file, ./certs in the current folder)
  --out DIR           write into DIR instead
  --alias NAME        import only this entry (its keystore alias or the alias written);
                      repeat for more
  --force             replace existing <alias>.crt files
  --dry-run           show what would be written, and write nothing

Exit code: 0 written, 1 nothing written (wrong password, not a keystore, existing files), 2 usage error.
`;

interface Planned {
  readonly alias: string;
  readonly entry: KeystoreEntry;
  readonly info: CertificateInfo;
  readonly file: string;
}

export async function certImportCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    password: { type: 'string' },
    config: { type: 'string', short: 'c' },
    out: { type: 'string' },
    alias: { type: 'string', multiple: true },
    force: { type: 'boolean', default: false },
    'dry-run': { type: 'boolean', default: false },
  });
  if (positionals.length === 0) throw new UsageError('the keystore to import is missing');
  if (positionals.length > 1) throw new UsageError(`one keystore at a time (got "${positionals.join('", "')}")`);
  if (values.out !== undefined && values.config !== undefined) throw new UsageError('give either --out or -c, not both');
  const fail = (message: string): number => {
    io.stderr.write(`gatehouse cert import: ${message}\n`);
    return EXIT_FAILED;
  };

  const keystoreFile = path.resolve(io.cwd, positionals[0]!);
  const shown = displayPath(keystoreFile, io.cwd);
  const read = await readKeystoreFile(keystoreFile);
  if ('error' in read) return fail(`cannot read ${shown}: ${read.error}`);

  const password = values.password ?? io.env[PASSWORD_VARIABLE];
  const keystore = parseKeystore(read.bytes, password);
  if (!keystore.ok) {
    const hint =
      keystore.problem !== 'password'
        ? ''
        : password === undefined
          ? `; give it with --password or ${PASSWORD_VARIABLE}`
          : `; give the right one with --password or ${PASSWORD_VARIABLE}`;
    return fail(`${shown}: ${keystore.reason}${hint}`);
  }
  if (keystore.entries.length === 0) return fail(`${shown}: the ${keystore.format} keystore holds no certificate; nothing to import`);

  // Names and certificates, all checked before anything is written.
  const planned: Planned[] = [];
  const taken = new Set<string>();
  for (const [i, entry] of keystore.entries.entries()) {
    let info: CertificateInfo;
    try {
      info = describeCertificate(new X509Certificate(entry.der));
    } catch (e) {
      return fail(`${shown}: the certificate of ${entryName(entry, i)} does not parse: ${(e as Error).message}`);
    }
    const base = [entry.storedAlias, commonName(info), 'certificate'].map((n) => (n === undefined ? undefined : safeAlias(n))).find(Boolean)!;
    let alias = base;
    for (let n = 2; taken.has(alias); n++) alias = `${base.slice(0, 127 - String(n).length)}-${n}`; // at most 128 characters
    taken.add(alias);
    planned.push({ alias, entry, info, file: `${alias}.crt` });
  }
  planned.sort((a, b) => (a.alias < b.alias ? -1 : a.alias > b.alias ? 1 : 0));
  let selected = planned;
  if (values.alias?.length) {
    const wanted = new Set(values.alias);
    selected = planned.filter((p) => wanted.has(p.alias) || (p.entry.storedAlias !== undefined && wanted.has(p.entry.storedAlias)));
    const found = new Set(selected.flatMap((p) => [p.alias, p.entry.storedAlias]));
    const missing = values.alias.filter((a) => !found.has(a));
    if (missing.length > 0) {
      return fail(`${shown} has no entry ${missing.map((a) => `"${a}"`).join(', ')} (it has: ${planned.map((p) => p.entry.storedAlias ?? p.alias).join(', ')})`);
    }
  }

  const target = await certificatesFolder(io, values.config, values.out);
  if ('error' in target) return fail(target.error);
  const { directory } = target;
  const folder = displayPath(directory, io.cwd);

  // Existing files: <alias>.crt is replaced only with --force; <alias>.pem (.cer, .der) would make
  // the alias ambiguous next to the new .crt, so it blocks even with --force.
  const existing = await listFolder(directory);
  if ('error' in existing) return fail(`cannot list ${folder}: ${existing.error}`);
  const conflicts: string[] = [];
  for (const p of selected) {
    for (const extension of CERTIFICATE_EXTENSIONS) {
      const name = existing.names.get(`${p.alias}${extension}`);
      if (name === undefined) continue;
      if (extension !== '.crt') conflicts.push(`${path.join(folder, name)} carries alias "${p.alias}" already (remove it: next to ${p.file} the alias would be ambiguous)`);
      else if (!values.force) conflicts.push(`${path.join(folder, name)} exists (--force replaces it)`);
    }
  }
  if (conflicts.length > 0) {
    return fail(`nothing written: ${plural(conflicts.length, 'file is', 'files are')} in the way:\n${conflicts.map((c) => `  ${c}\n`).join('')}`.trimEnd());
  }

  if (!keystore.verified) {
    io.stderr.write(
      `gatehouse cert import: warning: ${shown} was read without checking its integrity (no password given); give it with --password or ${PASSWORD_VARIABLE} to check it\n`,
    );
  }
  const dryRun = values['dry-run'];
  if (!dryRun) {
    try {
      for (const p of selected) await writeCertificate(directory, p, values.force);
    } catch (e) {
      const reason = (e as NodeJS.ErrnoException).code === 'EEXIST' ? `${(e as Error).message.replace(/ exists$/, '')} appeared meanwhile (--force replaces it)` : describeFsError(e);
      return fail(`writing into ${folder} failed: ${reason}`);
    }
  }

  const verb = dryRun ? 'Would write' : 'Wrote';
  io.stdout.write(`${verb} ${plural(selected.length, 'certificate')} from ${shown} (${keystore.format}) into ${folder}${target.note ?? ''}:\n\n`);
  const rows = [['FILE', 'ENTRY', 'SUBJECT', 'NOT AFTER', 'SHA-256 FINGERPRINT']];
  for (const p of selected) {
    const expired = p.info.notAfterMs < Date.now() ? ' (expired)' : '';
    rows.push([p.file, p.entry.storedAlias ?? '-', certificateLabel(p.info), p.info.notAfter.slice(0, 10) + expired, p.info.fingerprint256]);
  }
  io.stdout.write(formatTable(rows, '  '));
  const keyEntries = selected.filter((p) => p.entry.kind === 'key');
  if (keyEntries.length > 0) {
    io.stdout.write(
      `\n${keyEntries
        .map((p) => {
          const rest = (p.entry.chainLength ?? 1) - 1;
          return `${p.file}: the certificate of the private-key entry "${p.entry.storedAlias ?? p.alias}"; its key was not imported${rest > 0 ? `, nor the ${plural(rest, 'other certificate')} of its chain` : ''}`;
        })
        .join('\n')}\n`,
    );
  }
  if (!dryRun) io.stdout.write(`\nAn endpoint trusts ${selected.length === 1 ? 'it' : 'one'} with \`certificate: ${selected[0]!.alias}\` (a list for several).\n`);
  return EXIT_OK;
}

function entryName(entry: KeystoreEntry, index: number): string {
  return entry.storedAlias !== undefined ? `entry "${entry.storedAlias}"` : `certificate ${index + 1}`;
}

function commonName(info: CertificateInfo): string | undefined {
  return commonNameOf(info) ?? info.subjectAltNames[0]?.replace(/^[^:]*:/, '');
}

async function readKeystoreFile(file: string): Promise<{ bytes: Buffer } | { error: string }> {
  try {
    const handle = await open(file, 'r');
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) return { error: stat.isDirectory() ? 'it is a folder, not a file' : 'it is not a regular file' };
      if (stat.size > MAX_KEYSTORE_FILE_BYTES) return { error: `it is ${stat.size} bytes, above the limit of ${MAX_KEYSTORE_FILE_BYTES} bytes for a keystore` };
      return { bytes: await handle.readFile() };
    } finally {
      await handle.close();
    }
  } catch (e) {
    return { error: describeFsError(e) };
  }
}

/**
 * Where the files go: --out, else the configuration's certs.directory (relative to the
 * configuration's folder), read from the document alone, so a configuration that does not
 * validate yet (an alias waiting for this very import) still names its folder.
 */
async function certificatesFolder(
  io: CommandIo,
  config: string | undefined,
  out: string | undefined,
): Promise<{ directory: string; note?: string } | { error: string }> {
  if (out !== undefined) return { directory: path.resolve(io.cwd, out) };
  const file = configFile(io, config);
  const shown = displayPath(file, io.cwd);
  const setting = await readCertsFolderSetting(file, io.env);
  if ('error' in setting) {
    const diagnostics = setting.diagnostics ? `:\n${formatText(setting.diagnostics, io.cwd).trimEnd()}` : '';
    return { error: `${shown}, whose certs.directory receives the files: ${setting.error}; fix it or pass --out DIR${diagnostics}` };
  }
  if (setting.configMissing) {
    if (config !== undefined) return { error: `cannot read ${shown}, whose certs.directory receives the files: it does not exist; pass --out DIR to write elsewhere` };
    return { directory: setting.directory, note: ` (there is no ${shown} here: the default folder)` };
  }
  return { directory: setting.directory };
}

/** The folder's entries by lower-case name (a case-insensitive file system would make Orders.crt and orders.crt one file). */
async function listFolder(directory: string): Promise<{ names: Map<string, string> } | { error: string }> {
  try {
    const names = await readdir(directory);
    return { names: new Map(names.map((n) => [n.toLowerCase(), n])) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { names: new Map() };
    return { error: describeFsError(e) };
  }
}

/** Each file is renamed into place complete: a running gateway (which ignores hidden files) reloads once, on whole files. */
async function writeCertificate(directory: string, p: Planned, replace: boolean): Promise<void> {
  const finalPath = path.join(directory, p.file);
  // safeAlias guarantees this; checked again where it matters, next to the write.
  if (path.dirname(finalPath) !== path.resolve(directory) || p.alias.startsWith('.') || p.alias.includes('/')) {
    throw new Error(`refusing to write "${p.file}" outside ${directory}`);
  }
  await writeFileAtomic(finalPath, p.info.pem.endsWith('\n') ? p.info.pem : `${p.info.pem}\n`, { replace });
}
