// Reading the certificates folder again with the files of the last read (src/certs/read.ts,
// FileReadCache): a file whose identity did not change comes back as the same bytes without being
// opened; any change a file can go through (new content of the same size, a touch back to the old
// time, a Kubernetes ..data swap, removal) is read again; a file too young to trust is always read.
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { FileReadCache, readCertificateDirectory } from '../../src/certs/read.js';

function folder(t: Test): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-read-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const byAlias = async (dir: string, reads: FileReadCache) => new Map((await readCertificateDirectory(dir, reads)).files.map((f) => [f.alias, f]));

t.test('an unchanged file comes back as the same bytes; a changed one is read again', async (t) => {
  const dir = folder(t);
  writeFileSync(path.join(dir, 'a.crt'), 'AAAA');
  writeFileSync(path.join(dir, 'b.crt'), 'BBBB');
  const reads = new FileReadCache({ racyMs: 0 });
  const first = await byAlias(dir, reads);
  const second = await byAlias(dir, reads);
  t.equal(second.get('a')!.bytes, first.get('a')!.bytes, 'a: the very same Buffer, not opened again');
  t.equal(second.get('b')!.bytes, first.get('b')!.bytes);

  // Same size, new content.
  writeFileSync(path.join(dir, 'a.crt'), 'XXXX');
  const third = await byAlias(dir, reads);
  t.equal(third.get('a')!.bytes!.toString(), 'XXXX', 'a rewritten in place is read again');
  t.equal(third.get('b')!.bytes, first.get('b')!.bytes, 'b is still not opened');

  // Same size, and its modification time set back to what it was: the change time still moved.
  const { atime, mtime } = statSync(path.join(dir, 'b.crt'));
  writeFileSync(path.join(dir, 'b.crt'), 'YYYY');
  utimesSync(path.join(dir, 'b.crt'), atime, mtime);
  t.equal((await byAlias(dir, reads)).get('b')!.bytes!.toString(), 'YYYY', 'b rewritten and touched back to its old time is read again');
});

t.test('a file younger than the racy window is read every time', async (t) => {
  const dir = folder(t);
  writeFileSync(path.join(dir, 'a.crt'), 'AAAA');
  const reads = new FileReadCache({ racyMs: 60_000 });
  const first = await byAlias(dir, reads);
  const second = await byAlias(dir, reads);
  t.not(second.get('a')!.bytes, first.get('a')!.bytes, 'opened again: a write within the same clock tick would look the same to stat');
  t.equal(second.get('a')!.bytes!.toString(), 'AAAA');
});

t.test("Kubernetes' ..data swap: every linked file is read from the new folder", async (t) => {
  const dir = folder(t);
  const version = (name: string, content: string) => {
    mkdirSync(path.join(dir, name));
    writeFileSync(path.join(dir, name, 'shop.crt'), content);
  };
  version('..2026_12_01', 'OLD1');
  symlinkSync('..2026_12_01', path.join(dir, '..data'));
  symlinkSync('..data/shop.crt', path.join(dir, 'shop.crt'));
  const reads = new FileReadCache({ racyMs: 0 });
  const first = await byAlias(dir, reads);
  t.equal((await byAlias(dir, reads)).get('shop')!.bytes, first.get('shop')!.bytes, 'unchanged behind the links: not opened again');
  // The kubelet's atomic update: a new folder, a new link, renamed over ..data.
  version('..2026_12_02', 'NEW2');
  symlinkSync('..2026_12_02', path.join(dir, '..data_tmp'));
  renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  t.equal((await byAlias(dir, reads)).get('shop')!.bytes!.toString(), 'NEW2', 'the new version, same size');
});

t.test('a file removed is forgotten; put back, it is read again', async (t) => {
  const dir = folder(t);
  writeFileSync(path.join(dir, 'a.crt'), 'AAAA');
  const reads = new FileReadCache({ racyMs: 0 });
  const first = await byAlias(dir, reads);
  unlinkSync(path.join(dir, 'a.crt'));
  t.equal((await byAlias(dir, reads)).has('a'), false);
  writeFileSync(path.join(dir, 'a.crt'), 'AAAA');
  const back = await byAlias(dir, reads);
  t.not(back.get('a')!.bytes, first.get('a')!.bytes, 'a new read');
  t.equal(back.get('a')!.bytes!.toString(), 'AAAA');
});

t.test('a file that cannot be read is never remembered', async (t) => {
  const dir = folder(t);
  mkdirSync(path.join(dir, 'x.crt'));
  const reads = new FileReadCache({ racyMs: 0 });
  t.match((await byAlias(dir, reads)).get('x')!.error, /not a regular file/);
  rmSync(path.join(dir, 'x.crt'), { recursive: true });
  writeFileSync(path.join(dir, 'x.crt'), 'XXXX');
  t.equal((await byAlias(dir, reads)).get('x')!.bytes!.toString(), 'XXXX');
});
