// gatehouse key new|hash, as a user runs it (the real CLI in a child process): the key printed
// once, an entry that the keys file accepts and whose sha256 is the key's, nothing written to disk.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import t from 'tap';
import { hashApiKey, parseKeysFile, KEY_PREFIX } from '../../src/config/keys.js';
import { BIN, runCli } from '../helpers/cli.js';

t.test('key new: a fresh key, shown once, and the entry to paste; nothing is written', async (t) => {
  const dir = t.testdir({});
  const first = await runCli(['key', 'new', '--name', 'orders-web', '--type', 'production', '--apis', 'Orders, Payments', '--plan', 'Gold'], { cwd: dir });
  t.equal(first.code, 0, first.stderr);
  const key = /^ {2}(ghk_\S+)$/m.exec(first.stdout)?.[1];
  t.ok(key?.startsWith(KEY_PREFIX), 'the key is printed on a line of its own');
  t.equal(key!.length, KEY_PREFIX.length + 43, '256 random bits, base64url');
  const entryText = first.stdout.slice(first.stdout.indexOf('- name:'));
  const parsed = parseKeysFile(entryText, '/pasted.yaml');
  t.same(parsed.diagnostics, [], 'the entry is a valid keys file as printed');
  t.match(parsed.entries, [{ name: 'orders-web', sha256: hashApiKey(key!), type: 'production', apis: ['Orders', 'Payments'], plan: 'Gold' }], "its sha256 is the key's");
  t.notOk(entryText.includes(key!), 'the entry does not hold the key');
  t.same(readdirSync(dir), [], 'no file was written');
  const second = await runCli(['key', 'new', '--name', 'orders-web', '--type', 'production', '--apis', 'Orders'], { cwd: dir });
  t.not(/ghk_\S+/.exec(second.stdout)?.[0], key, 'each run makes another key');
  const json = await runCli(['key', 'new', '--name', 'x', '--type', 'sandbox', '--apis', 'A', '--format', 'json'], { cwd: dir });
  const doc = JSON.parse(json.stdout) as { key: string; entry: { sha256: string; type: string } };
  t.equal(doc.entry.sha256, hashApiKey(doc.key));
  t.equal(doc.entry.type, 'sandbox');
});

t.test('key hash: the entry of an existing key, read from standard input', async (t) => {
  const dir = t.testdir({});
  const run = spawnSync(process.execPath, [BIN, 'key', 'hash', '--name', 'legacy', '--type', 'sandbox', '--apis', 'Orders'], { cwd: dir, input: 'my-old-wso2-key\n', encoding: 'utf8' });
  t.equal(run.status, 0, run.stderr);
  t.match(parseKeysFile(run.stdout, '/k.yaml').entries, [{ name: 'legacy', sha256: hashApiKey('my-old-wso2-key'), type: 'sandbox' }], 'the trailing newline of echo is not part of the key');
  t.notOk(run.stdout.includes('my-old-wso2-key'), 'the key is not printed back');
  const empty = spawnSync(process.execPath, [BIN, 'key', 'hash', '--name', 'legacy', '--type', 'sandbox', '--apis', 'Orders'], { cwd: dir, input: '', encoding: 'utf8' });
  t.equal(empty.status, 2, 'an empty standard input is a usage error');
});

t.test('key: usage errors say what is missing (exit 2)', async (t) => {
  const dir = t.testdir({});
  const cases: [string[], RegExp][] = [
    [['key'], /a subcommand is needed: new or hash/],
    [['key', 'make'], /unknown subcommand "make"/],
    [['key', 'new', '--type', 'production', '--apis', 'A'], /--name is needed/],
    [['key', 'new', '--name', 'a', '--apis', 'A'], /--type is needed/],
    [['key', 'new', '--name', 'a', '--type', 'live', '--apis', 'A'], /--type must be production or sandbox \(got "live"\)/],
    [['key', 'new', '--name', 'a', '--type', 'production'], /--apis is needed/],
    [['key', 'new', '--name', 'a;b', '--type', 'production', '--apis', 'A'], /name may hold letters, digits/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(args, { cwd: dir });
    t.equal(result.code, 2, args.join(' '));
    t.match(result.stderr, message);
  }
});
