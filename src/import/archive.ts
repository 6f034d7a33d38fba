// A .zip of an apictl export (`apictl export api` writes one), unpacked into a fresh temporary
// folder with yauzl. The archive comes from elsewhere, so it is read as untrusted: an entry whose
// name climbs out (`..`), is absolute or has a backslash is refused by yauzl's name checks
// (strictFileNames), a symbolic link or a device is refused here, and the sizes are bounded, so
// that nothing is written outside the folder and a small archive cannot fill the disk.
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';

/** An apictl export is kilobytes to a few megabytes; these bounds are far above any. */
const MAX_ENTRIES = 10_000;
const MAX_TOTAL_BYTES = 256 * 1024 * 1024;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

export class ArchiveError extends Error {}

/** The archive unpacked: `folder` holds its entries; `remove` deletes it. */
export interface Unpacked {
  readonly folder: string;
  remove(): Promise<void>;
}

export async function unpackZip(file: string): Promise<Unpacked> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-import-'));
  const remove = () => rm(folder, { recursive: true, force: true });
  try {
    await extract(file, folder);
    return { folder, remove };
  } catch (e) {
    await remove();
    throw e;
  }
}

async function extract(file: string, folder: string): Promise<void> {
  let zip: ZipFile;
  try {
    zip = await new Promise<ZipFile>((resolve, reject) =>
      yauzl.open(file, { lazyEntries: true, strictFileNames: true, decodeStrings: true, validateEntrySizes: true }, (error, opened) => (error ? reject(error) : resolve(opened))),
    );
  } catch (e) {
    throw new ArchiveError(`${file} is not a zip archive yauzl can read: ${(e as Error).message}`);
  }
  let entries = 0;
  let total = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (message: string) => reject(new ArchiveError(`${file} is refused: ${message}; nothing was imported`));
      zip.on('error', (error: Error) => fail(error.message));
      zip.on('end', () => resolve());
      zip.on('entry', (entry: Entry) => {
        const problem = entryProblem(entry);
        if (problem) return fail(`entry "${entry.fileName}" ${problem}`);
        if (++entries > MAX_ENTRIES) return fail(`it has more than ${MAX_ENTRIES} entries`);
        total += entry.uncompressedSize;
        if (total > MAX_TOTAL_BYTES) return fail(`it unpacks to more than ${MAX_TOTAL_BYTES} bytes`);
        const target = path.join(folder, entry.fileName);
        // yauzl's name checks already refuse this; the second lock costs nothing.
        if (!target.startsWith(folder + path.sep)) return fail(`entry "${entry.fileName}" would be written outside the folder`);
        if (entry.fileName.endsWith('/')) {
          mkdir(target, { recursive: true }).then(() => zip.readEntry(), reject);
          return undefined;
        }
        zip.openReadStream(entry, (error, stream) => {
          if (error) return fail(`entry "${entry.fileName}" cannot be read: ${error.message}`);
          mkdir(path.dirname(target), { recursive: true })
            .then(() => pipeline(stream, createWriteStream(target, { flags: 'wx', mode: 0o600 })))
            .then(() => zip.readEntry(), (e: Error) => fail(`entry "${entry.fileName}" cannot be unpacked: ${e.message}`));
          return undefined;
        });
        return undefined;
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}

/** Why an entry is refused, by the type its Unix mode says (zip tools keep it in the upper half of the external attributes). */
function entryProblem(entry: Entry): string | undefined {
  const type = (entry.externalFileAttributes >>> 16) & S_IFMT;
  if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) return type === 0o120000 ? 'is a symbolic link' : 'is not a regular file or a folder';
  if (entry.isEncrypted()) return 'is encrypted';
  return undefined;
}
