// `gatehouse import wso2 <export.zip>`, as `apictl export api` hands it over: a zip of the project
// folder gives the very result of the folder, and a zip that would write outside its folder (an
// entry named ../…, an absolute name, a backslash path) or holds a symbolic link is refused, naming
// the entry, with nothing written anywhere. The installed command runs with TMPDIR set to a folder
// of the test, so that "anywhere" includes where the archive is unpacked (and where ../evil.txt
// would land). yazl will not write such names, so those zips are written here by hand: stored
// entries, local headers, central directory, end record.
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import t from 'tap';
import type { Test } from 'tap';
import yazl from 'yazl';
import { runCli } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';

const PROJECT = path.resolve(import.meta.dirname, '../fixtures/wso2/PizzaShackAPI-1.0.0');

/** Every file of a folder, relative (with /), sorted. */
function filesOf(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** Every entry under `dir` (files and folders), with the bytes and mtime of each file. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(e.parentPath, e.name);
    const relative = path.relative(dir, full).split(path.sep).join('/');
    out[relative] = e.isDirectory() ? '<dir>' : `${statSync(full).mtimeMs} ${readFileSync(full, 'base64')}`;
  }
  return out;
}

/** The project's files as zip entries under `prefix` (apictl's Name-version/), with a folder entry for each folder. */
function projectEntries(prefix: string): { name: string; data: Buffer; mode?: number }[] {
  const entries: { name: string; data: Buffer; mode?: number }[] = [];
  const folders = new Set<string>();
  for (const file of filesOf(PROJECT)) {
    for (let d = path.posix.dirname(file); d !== '.'; d = path.posix.dirname(d)) folders.add(d);
    entries.push({ name: prefix + file, data: readFileSync(path.join(PROJECT, file)) });
  }
  return [...[...folders].sort().map((d) => ({ name: `${prefix}${d}/`, data: Buffer.alloc(0), mode: 0o040755 })), ...entries];
}

/** A zip made by yazl (the library refuses names that climb out, so it makes only honest ones). */
async function yazlZip(entries: readonly { name: string; data: Buffer; mode?: number }[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries) {
    if (e.name.endsWith('/')) zip.addEmptyDirectory(e.name.slice(0, -1));
    else zip.addBuffer(e.data, e.name, { mode: e.mode ?? 0o100644 });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A zip written byte by byte, every entry stored (method 0): local file header + name + data per
 * entry, then the central directory (version made by: Unix, so that the upper 16 bits of the
 * external attributes are the entry's st_mode), then the end of central directory record.
 */
function storedZip(entries: readonly { name: string; data: Buffer; mode?: number }[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  const DOS_DATE = (1 << 5) | 1; // 1980-01-01
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const crc = crc32(entry.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0
    local.writeUInt16LE(0x0800, 6); // flags: the name is UTF-8
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(entry.data.length, 18); // compressed size
    local.writeUInt32LE(entry.data.length, 22); // uncompressed size
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28); // extra field length
    parts.push(local, name, entry.data);

    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(0x0800, 8);
    header.writeUInt16LE(0, 10);
    header.writeUInt16LE(0, 12);
    header.writeUInt16LE(DOS_DATE, 14);
    header.writeUInt32LE(crc, 16);
    header.writeUInt32LE(entry.data.length, 20);
    header.writeUInt32LE(entry.data.length, 24);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt16LE(0, 30); // extra
    header.writeUInt16LE(0, 32); // comment
    header.writeUInt16LE(0, 34); // disk
    header.writeUInt16LE(0, 36); // internal attributes
    header.writeUInt32LE((entry.mode ?? (entry.name.endsWith('/') ? 0o040755 : 0o100644)) * 0x10000, 38); // st_mode << 16
    header.writeUInt32LE(offset, 42);
    central.push(header, name);
    offset += local.length + name.length + entry.data.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20);
  return Buffer.concat([...parts, directory, end]);
}

interface Workspace {
  readonly root: string;
  /** TMPDIR of the command: where it unpacks. */
  readonly tmp: string;
  run(args: readonly string[]): Promise<CliResult>;
}

function workspace(t: Test): Workspace {
  const root = t.testdir({ tmp: {} });
  const tmp = path.join(root, 'tmp');
  return { root, tmp, run: (args) => runCli(['import', 'wso2', ...args], { cwd: root, env: { TMPDIR: tmp } }) };
}

t.test('a zip of the project (yazl, Name-version/ inside, as apictl exports it) imports as the folder does, byte for byte', async (t) => {
  const ws = workspace(t);
  cpSync(PROJECT, path.join(ws.root, 'PizzaShackAPI-1.0.0'), { recursive: true });
  writeFileSync(path.join(ws.root, 'PizzaShackAPI_1.0.0.zip'), await yazlZip(projectEntries('PizzaShackAPI-1.0.0/')));
  writeFileSync(path.join(ws.root, 'flat.zip'), await yazlZip(projectEntries('')));

  const folder = await ws.run(['PizzaShackAPI-1.0.0', '--out', 'from-folder']);
  t.equal(folder.code, 0, folder.stderr);
  const zip = await ws.run(['PizzaShackAPI_1.0.0.zip', '--out', 'from-zip']);
  t.equal(zip.code, 0, zip.stderr);
  t.equal(zip.stderr, '');
  const files = filesOf(path.join(ws.root, 'from-folder'));
  t.same(files, ['certs/pizzashack-prod.crt', 'certs/pizzashack-sandbox.crt', 'definitions/PizzaShackAPI-1.0.0.yaml', 'gateway.yaml']);
  t.same(filesOf(path.join(ws.root, 'from-zip')), files, 'the same files');
  for (const file of files) t.equal(readFileSync(path.join(ws.root, 'from-zip', file), 'utf8'), readFileSync(path.join(ws.root, 'from-folder', file), 'utf8'), `${file}: the same bytes`);
  t.equal(zip.stdout.replaceAll('from-zip/', 'from-folder/'), folder.stdout, 'the same output: listing, not carried over (17), plan');
  t.match(zip.stdout, /^Not carried over \(17\)/m);
  t.same(readdirSync(ws.tmp), [], 'the unpacked folder is removed');

  // The same zip again: nothing to do.
  const again = await ws.run(['PizzaShackAPI_1.0.0.zip', '--out', 'from-zip']);
  t.equal(again.code, 0);
  t.match(again.stdout, /^Nothing to do: /m);

  // The project's files at the root of the zip, without the Name-version/ folder.
  const flat = await ws.run(['flat.zip', '--out', 'from-flat']);
  t.equal(flat.code, 0, flat.stderr);
  for (const file of files) t.equal(readFileSync(path.join(ws.root, 'from-flat', file), 'utf8'), readFileSync(path.join(ws.root, 'from-folder', file), 'utf8'), `flat: ${file}`);
  t.same(readdirSync(ws.tmp), []);
});

t.test('a zip that writes outside its folder or holds a symbolic link is refused, naming the entry, and nothing is written anywhere', async (t) => {
  const project = projectEntries('PizzaShackAPI-1.0.0/');
  const middle = Math.floor(project.length / 2);
  /** The whole project with one more entry in the middle (so that entries before it were unpacked already). */
  const withEntry = (entry: { name: string; data: Buffer; mode?: number }, without?: string) => {
    const entries = project.filter((e) => e.name !== without);
    return storedZip([...entries.slice(0, middle), entry, ...entries.slice(middle)]);
  };
  const cases: { what: string; zip: (root: string) => Buffer; message: RegExp; lands: (ws: Workspace) => string[] }[] = [
    {
      what: 'an entry ../evil.txt',
      zip: () => withEntry({ name: '../evil.txt', data: Buffer.from('pwned\n') }),
      message: /^gatehouse import: \S*\/evil\.zip is refused: .*\.\.\/evil\.txt.*; nothing was imported\n$/,
      // Unpacked into TMPDIR/gatehouse-import-XXXX/, it would land in TMPDIR.
      lands: (ws) => [path.join(ws.tmp, 'evil.txt'), path.join(ws.root, 'evil.txt')],
    },
    {
      what: 'an entry PizzaShackAPI-1.0.0/../../evil.txt',
      zip: () => withEntry({ name: 'PizzaShackAPI-1.0.0/../../evil.txt', data: Buffer.from('pwned\n') }),
      message: /^gatehouse import: \S*\/evil\.zip is refused: .*PizzaShackAPI-1\.0\.0\/\.\.\/\.\.\/evil\.txt.*; nothing was imported\n$/,
      lands: (ws) => [path.join(ws.tmp, 'evil.txt'), path.join(ws.root, 'evil.txt')],
    },
    {
      what: 'an absolute name',
      zip: (root) => withEntry({ name: `${root}/abs-evil.txt`, data: Buffer.from('pwned\n') }),
      message: /^gatehouse import: \S*\/evil\.zip is refused: .*\/abs-evil\.txt.*; nothing was imported\n$/,
      lands: (ws) => [path.join(ws.root, 'abs-evil.txt')],
    },
    {
      what: 'a backslash path',
      zip: () => withEntry({ name: 'PizzaShackAPI-1.0.0\\..\\..\\evil.txt', data: Buffer.from('pwned\n') }),
      message: /^gatehouse import: \S*\/evil\.zip is refused: .*PizzaShackAPI-1\.0\.0\\\.\.\\\.\.\\evil\.txt.*; nothing was imported\n$/,
      lands: (ws) => [path.join(ws.tmp, 'evil.txt'), path.join(ws.root, 'evil.txt')],
    },
    {
      what: 'a symbolic link (mode 0o120777) in place of the definition',
      zip: () => withEntry({ name: 'PizzaShackAPI-1.0.0/Definitions/swagger.yaml', data: Buffer.from('/etc/passwd'), mode: 0o120777 }, 'PizzaShackAPI-1.0.0/Definitions/swagger.yaml'),
      message: /^gatehouse import: \S*\/evil\.zip is refused: entry "PizzaShackAPI-1\.0\.0\/Definitions\/swagger\.yaml" is a symbolic link; nothing was imported\n$/,
      lands: () => [],
    },
    {
      what: 'a symbolic link to a folder outside',
      zip: () => withEntry({ name: 'PizzaShackAPI-1.0.0/Docs', data: Buffer.from('../../..'), mode: 0o120755 }),
      message: /^gatehouse import: \S*\/evil\.zip is refused: entry "PizzaShackAPI-1\.0\.0\/Docs" is a symbolic link; nothing was imported\n$/,
      lands: () => [],
    },
  ];
  for (const c of cases) {
    await t.test(c.what, async (t) => {
      const ws = workspace(t);
      mkdirSync(path.join(ws.root, 'parent'));
      writeFileSync(path.join(ws.root, 'evil.zip'), c.zip(ws.root));
      const before = tree(ws.root);
      const result = await ws.run(['evil.zip', '--out', 'parent/out']);
      t.equal(result.code, 1, 'refused');
      t.equal(result.stdout, '');
      t.match(result.stderr, c.message, 'naming the entry');
      t.notOk(existsSync(path.join(ws.root, 'parent', 'out')), 'no out folder');
      t.same(readdirSync(path.join(ws.root, 'parent')), [], 'nothing in its parent folder');
      t.same(readdirSync(ws.tmp), [], 'nothing left where it was unpacked');
      t.same(tree(ws.root), before, 'every file and folder of the test as before');
      for (const file of c.lands(ws)) t.notOk(existsSync(file), `nothing at ${path.relative(ws.root, file)}`);
    });
  }
  // The same entries through yazl, for the record: it will not write them.
  t.throws(() => new yazl.ZipFile().addBuffer(Buffer.alloc(0), '../evil.txt'), /invalid relative path/, 'yazl refuses .. names');
});

t.test('a .zip that is not a zip, or a zip that holds no export: exit 1, saying which', async (t) => {
  const ws = workspace(t);
  writeFileSync(path.join(ws.root, 'broken.zip'), 'PK but not really\n');
  writeFileSync(path.join(ws.root, 'notes.zip'), await yazlZip([{ name: 'notes/README.md', data: Buffer.from('# not an export\n') }]));
  const broken = await ws.run(['broken.zip', '--out', 'out']);
  t.equal(broken.code, 1);
  t.match(broken.stderr, /^gatehouse import: .*broken\.zip is not a zip archive yauzl can read: /);
  const notes = await ws.run(['notes.zip', '--out', 'out']);
  t.equal(notes.code, 1);
  t.equal(notes.stderr, 'gatehouse import: notes.zip is not an apictl export: expected api.yaml (a 4.x project), Meta-information/api.yaml (a 3.x project) or api_meta.yaml (a deployment folder)\n');
  t.notOk(existsSync(path.join(ws.root, 'out')), 'nothing written');
  t.same(readdirSync(ws.tmp), [], 'the unpacked folder is removed');
});

t.test('an export whose version or name would make a path (../../evil) is refused before anything is written', async (t) => {
  for (const [key, value] of [['version', '../../evil'], ['name', '../Pizza']] as const) {
    const ws = workspace(t);
    const project = path.join(ws.root, 'PizzaShackAPI-1.0.0');
    cpSync(PROJECT, project, { recursive: true });
    const apiYaml = path.join(project, 'api.yaml');
    const text = readFileSync(apiYaml, 'utf8');
    const changed = key === 'version' ? text.replace(/^(\s+)version: 1\.0\.0$/m, `$1version: "${value}"`) : text.replace(/^(\s+)name: PizzaShackAPI$/m, `$1name: "${value}"`);
    t.not(changed, text, `the fixture's ${key} was changed`);
    writeFileSync(apiYaml, changed);
    const before = tree(ws.root);
    const result = await ws.run(['PizzaShackAPI-1.0.0', '--out', 'out/deep']);
    t.equal(result.code, 1, `${key} ${value}: exit 1`);
    t.match(result.stderr, new RegExp(`the API's ${key} "${value.replace(/[.]/g, '\\.')}" is not one Gatehouse takes`), `${key}: the message names it`);
    t.same(tree(ws.root), before, `${key}: nothing written anywhere`);
  }
});
