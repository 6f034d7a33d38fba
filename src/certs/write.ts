// Writing a file into the certificates folder (cert fetch, cert import) so that a running
// gateway never reads half of it and nothing is overwritten by surprise.
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileExists } from './read.js';

/**
 * Writes `text` to `file` through a hidden temporary file in the same folder and a rename: the
 * watcher (which ignores hidden files) sees one complete file. Without `replace`, an existing
 * file is never overwritten, even one that appeared meanwhile: a hard link refuses to replace it
 * (where links are not allowed, it is checked just before the rename), and the error's code is
 * EEXIST. Mode 0644 whatever the umask: a certificate is public.
 */
export async function writeFileAtomic(file: string, text: string, options: { readonly replace: boolean }): Promise<void> {
  const directory = path.dirname(file);
  await mkdir(directory, { recursive: true });
  const temporary = path.join(directory, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(temporary, text, { mode: 0o644, flag: 'wx' });
  try {
    await chmod(temporary, 0o644);
    if (options.replace) {
      await rename(temporary, file);
      return;
    }
    try {
      await link(temporary, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw e;
      // Hard links are not everywhere (some mounted volumes).
      if (await fileExists(file)) throw Object.assign(new Error(`${file} exists`), { code: 'EEXIST' });
      await rename(temporary, file);
    }
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}
