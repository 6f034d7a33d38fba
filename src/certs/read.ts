// Read the certificates folder: every certificate file by alias, bounded in size, and never a
// file that resolves outside the folder. Kubernetes mounts a Secret or ConfigMap as
// certs/<alias>.crt → ..data/<alias>.crt → ..<timestamp>/<alias>.crt, all inside the folder,
// which is allowed; a symlink that leads elsewhere is refused.
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import type { Dirent, Stats } from 'node:fs';
import { lstat, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';

/** Extensions of trust files, in the order an alias is looked up. */
export const CERTIFICATE_EXTENSIONS = ['.crt', '.pem', '.cer', '.der'] as const;

/** A certificate is a few kilobytes; a bundle of every public root is about 250 KiB. */
export const MAX_CERTIFICATE_FILE_BYTES = 1024 * 1024;

export interface FileRead {
  readonly name: string;
  /** Absolute path (as listed, before symlinks are resolved). */
  readonly path: string;
  readonly bytes?: Buffer;
  /** Why the file could not be read, when it could not. */
  readonly error?: string;
}

export interface CertificateFileRead extends FileRead {
  readonly alias: string;
}

export interface CertificateDirectory {
  /** Absolute path. */
  readonly directory: string;
  /** Why the folder could not be listed (absent: it was). */
  readonly error?: string;
  /** The folder does not exist (ENOENT): a first start before its files are made, or a folder that went away. */
  readonly missing?: boolean;
  readonly files: readonly CertificateFileRead[];
}

export function aliasOf(fileName: string): { alias: string; extension: string } | undefined {
  const extension = path.extname(fileName).toLowerCase();
  if (!(CERTIFICATE_EXTENSIONS as readonly string[]).includes(extension)) return undefined;
  return { alias: fileName.slice(0, -extension.length), extension };
}

/**
 * Files read between two turns of the event loop. Small files are read synchronously: measured,
 * a thousand 1.5 KB certificates take 16 ms with readFileSync and 190 ms through promise file
 * handles; in chunks of 64, requests wait at most about a millisecond behind a reload.
 */
const READ_CHUNK = 64;

/**
 * The files of the last read of a folder with their identity (device, inode, size, modification
 * and change times), so that the next read opens only the files that changed: a reload caused by
 * one certificate among a thousand then reads one file, not a thousand (about 20 ms of a reload
 * on a slow machine), and hands the others on as the same bytes. As git does with its index, a
 * file modified within RACY_MS of being read is read again every time, until it is older: two
 * writes within one tick of a coarse file-system clock, of the same size, look the same to stat.
 */
export class FileReadCache {
  readonly #racyMs: number;
  #files = new Map<string, { readonly resolved: string; readonly identity: string; readonly read: FileRead }>();
  #next = new Map<string, { readonly resolved: string; readonly identity: string; readonly read: FileRead }>();

  constructor({ racyMs = RACY_MS } = {}) {
    this.#racyMs = racyMs;
  }

  /** The previous read of `listed`, when the file it resolves to has not changed since. */
  unchanged(resolved: string, listed: string): FileRead | undefined {
    const before = this.#files.get(listed);
    if (!before || before.resolved !== resolved) return undefined;
    const stat = statSync(resolved, { throwIfNoEntry: false });
    if (!stat?.isFile() || identityOf(stat) !== before.identity) return undefined;
    this.#next.set(listed, before);
    return before.read;
  }

  /** A file read whole: kept for the next read when it is not too young to trust its identity. */
  remember(resolved: string, listed: string, stat: Stats, read: FileRead): void {
    if (Date.now() - Math.max(stat.mtimeMs, stat.ctimeMs) < this.#racyMs) return;
    this.#next.set(listed, { resolved, identity: identityOf(stat), read });
  }

  /** The read of the folder is over: files it did not list are forgotten. */
  finish(): void {
    this.#files = this.#next;
    this.#next = new Map();
  }
}

const RACY_MS = 2_000;

const identityOf = (stat: Stats) => `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;

export async function readCertificateDirectory(directory: string, reads?: FileReadCache): Promise<CertificateDirectory> {
  let entries: Dirent[];
  let realDirectory: string;
  try {
    realDirectory = await realpath(directory);
    entries = await readdir(realDirectory, { withFileTypes: true });
  } catch (e) {
    return { directory, error: describeFsError(e), ...((e as NodeJS.ErrnoException).code === 'ENOENT' ? { missing: true } : {}), files: [] };
  }
  // Hidden entries are Kubernetes' ..data links and timestamped folders, and editors' temp files.
  const candidates = entries
    .filter((entry) => !entry.name.startsWith('.') && aliasOf(entry.name) !== undefined)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: CertificateFileRead[] = [];
  for (let i = 0; i < candidates.length; i++) {
    if (i > 0 && i % READ_CHUNK === 0) await new Promise((resolve) => setImmediate(resolve));
    const entry = candidates[i]!;
    const listed = path.join(directory, entry.name);
    // A plain file of the folder is inside it by construction; a link must be resolved first.
    const read = entry.isSymbolicLink()
      ? readContainedFile(realDirectory, listed, MAX_CERTIFICATE_FILE_BYTES, reads)
      : readBoundedFile(path.join(realDirectory, entry.name), listed, MAX_CERTIFICATE_FILE_BYTES, reads);
    files.push({ alias: aliasOf(entry.name)!.alias, ...read });
  }
  reads?.finish();
  return { directory, files };
}

/**
 * Reads a file that must resolve (through any symlinks) to a regular file inside `realDirectory`,
 * and be at most `maxBytes` long.
 */
export function readContainedFile(realDirectory: string, filePath: string, maxBytes: number, reads?: FileReadCache): FileRead {
  let resolved: string;
  try {
    resolved = realpathSync(filePath);
  } catch (e) {
    return { name: path.basename(filePath), path: filePath, error: describeFsError(e) };
  }
  if (!resolved.startsWith(realDirectory + path.sep)) {
    return { name: path.basename(filePath), path: filePath, error: `it resolves to ${resolved}, outside the certificates folder (${realDirectory})` };
  }
  return readBoundedFile(resolved, filePath, maxBytes, reads);
}

/** Reads `resolved` (reported as `listed`) when it is a regular file of at most `maxBytes`. */
function readBoundedFile(resolved: string, listed: string, maxBytes: number, reads?: FileReadCache): FileRead {
  const name = path.basename(listed);
  let fd: number | undefined;
  try {
    const unchanged = reads?.unchanged(resolved, listed);
    if (unchanged) return unchanged;
    // O_NONBLOCK: a named pipe dropped in the folder must not block the thread (the open of a
    // FIFO waits for a writer); fstat below then refuses what is not a regular file.
    fd = openSync(resolved, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { name, path: listed, error: 'it is not a regular file' };
    if (stat.size > maxBytes) {
      return { name, path: listed, error: `it is ${stat.size} bytes, above the limit of ${maxBytes} bytes for a certificate file` };
    }
    // Read through the descriptor that was checked, so a swap between check and read cannot slip
    // in; a byte more than the size found tells a file that is still being written.
    const buffer = Buffer.alloc(stat.size + 1);
    let length = 0;
    for (let n; length < buffer.length && (n = readSync(fd, buffer, length, buffer.length - length, null)) > 0; ) length += n;
    if (length > stat.size) return { name, path: listed, error: 'it grew while being read (if it is being written, the next reload reads it again)' };
    const read = { name, path: listed, bytes: buffer.subarray(0, length) };
    reads?.remember(resolved, listed, stat, read);
    return read;
  } catch (e) {
    return { name, path: listed, error: describeFsError(e) };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export async function fileExists(filePath: string): Promise<boolean> {
  try {
    await lstat(filePath);
    return true;
  } catch {
    return false;
  }
}

export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'it does not exist';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a part of the path is not a folder';
    case 'EISDIR':
      return 'it is a folder, not a file';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    default:
      return (error as Error).message;
  }
}
