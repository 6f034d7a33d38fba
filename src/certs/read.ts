// Read the certificates folder: every certificate file by alias, bounded in size, and never a
// file that resolves outside the folder. Kubernetes mounts a Secret or ConfigMap as
// certs/<alias>.crt → ..data/<alias>.crt → ..<timestamp>/<alias>.crt, all inside the folder,
// which is allowed; a symlink that leads elsewhere is refused.
import { lstat, readdir, realpath, open } from 'node:fs/promises';
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
  readonly files: readonly CertificateFileRead[];
}

export function aliasOf(fileName: string): { alias: string; extension: string } | undefined {
  const extension = path.extname(fileName).toLowerCase();
  if (!(CERTIFICATE_EXTENSIONS as readonly string[]).includes(extension)) return undefined;
  return { alias: fileName.slice(0, -extension.length), extension };
}

export async function readCertificateDirectory(directory: string): Promise<CertificateDirectory> {
  let names: string[];
  let realDirectory: string;
  try {
    realDirectory = await realpath(directory);
    names = await readdir(directory);
  } catch (e) {
    return { directory, error: describeFsError(e), files: [] };
  }
  const files: CertificateFileRead[] = [];
  // Hidden entries are Kubernetes' ..data links and timestamped folders, and editors' temp files.
  for (const name of names.filter((n) => !n.startsWith('.')).sort()) {
    const parsed = aliasOf(name);
    if (!parsed) continue;
    files.push({ alias: parsed.alias, ...(await readContainedFile(realDirectory, path.join(directory, name), MAX_CERTIFICATE_FILE_BYTES)) });
  }
  return { directory, files };
}

/**
 * Reads a file that must resolve (through any symlinks) to a regular file inside `realDirectory`,
 * and be at most `maxBytes` long.
 */
export async function readContainedFile(realDirectory: string, filePath: string, maxBytes: number): Promise<FileRead> {
  const name = path.basename(filePath);
  try {
    const resolved = await realpath(filePath);
    if (!resolved.startsWith(realDirectory + path.sep)) {
      return { name, path: filePath, error: `it resolves to ${resolved}, outside the certificates folder (${realDirectory})` };
    }
    const handle = await open(resolved, 'r');
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) return { name, path: filePath, error: 'it is not a regular file' };
      if (stat.size > maxBytes) {
        return { name, path: filePath, error: `it is ${stat.size} bytes, above the limit of ${maxBytes} bytes for a certificate file` };
      }
      // Read through the handle that was checked, so a swap between check and read cannot slip in.
      const bytes = await handle.readFile();
      if (bytes.length > maxBytes) return { name, path: filePath, error: `it grew above the limit of ${maxBytes} bytes while being read` };
      return { name, path: filePath, bytes };
    } finally {
      await handle.close();
    }
  } catch (e) {
    return { name, path: filePath, error: describeFsError(e) };
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
