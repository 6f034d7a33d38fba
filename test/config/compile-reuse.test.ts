// A reload that only changed a certificate file compiles only the APIs that trust it
// (src/config/compile.ts, compiledApis): the others are the very objects of the load before, with
// the same diagnostics; and whatever was reused, the result equals a load from scratch.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { DocumentCache, loadConfig } from '../../src/config/load.js';
import type { LoadResult } from '../../src/config/load.js';
import { createCA, issue } from '../helpers/pki.js';

const ca = createCA('Reuse Test CA', { keyIndex: 0 });
// A leaf that names another host: Shop's endpoints get a CERT_HOSTNAME warning, which a reused API must still carry.
const shop = issue({ cn: 'shop.test', sans: ['shop.test'], issuer: ca, keyIndex: 3 });
const pay = createCA('Reuse Test Pay CA', { keyIndex: 1 });
const payRenewed = createCA('Reuse Test Pay CA', { keyIndex: 1 });
const later = createCA('Reuse Test Later CA', { keyIndex: 2 });

const yaml = (shopSocket = '60s') => `version: 1
listen: { http: "127.0.0.1:0" }
apis:
  - { name: Shop, context: /shop, version: v1, endpoints: { production: { url: "https://127.0.0.1:9443", certificate: shop, timeouts: { socket: ${shopSocket} } }, sandbox: { url: "https://127.0.0.1:9446", certificate: shop } } }
  - { name: Pay, context: /pay, version: v1, endpoints: { production: { url: "https://127.0.0.1:9444", certificate: pay } } }
  - { name: Later, context: /later, version: v1, endpoints: { production: { url: "https://127.0.0.1:9445", certificate: later } } }
`;

async function fresh(file: string): Promise<LoadResult> {
  return loadConfig(file, { env: {}, freeze: false });
}

/** What a load says, without the objects' identity: for comparing a load with reuse to one from scratch. */
const plain = (result: LoadResult) => JSON.parse(JSON.stringify({ config: result.config, diagnostics: result.diagnostics })) as unknown;

t.test('a certificate file replaced: the APIs that do not trust it are the same objects, and the load equals one from scratch', async (t) => {
  const dir = t.testdir({ 'gateway.yaml': yaml(), certs: { 'shop.crt': shop.certPem, 'pay.crt': pay.certPem } });
  const file = path.join(dir, 'gateway.yaml');
  // racyMs 0: files written a moment ago are trusted by their identity (the default waits 2 s).
  const cache = new DocumentCache({ racyMs: 0 });
  const first = await loadConfig(file, { env: {}, cache, freeze: false });
  const before = first.config!;
  t.ok(first.diagnostics.some((d) => d.code === 'CERT_HOSTNAME'), 'the endpoints carry hostname warnings');
  t.ok(first.diagnostics.some((d) => d.code === 'CERT_PENDING'), 'Later waits for its file');

  writeFileSync(path.join(dir, 'certs', 'pay.crt'), payRenewed.certPem);
  const second = await loadConfig(file, { env: {}, cache, freeze: false });
  const after = second.config!;
  t.equal(after.apis[0], before.apis[0], 'Shop: the same object (not compiled again)');
  t.not(after.apis[1], before.apis[1], 'Pay: compiled again');
  t.equal(after.apis[1]!.production.targets[0]!.certificates[0]!.certificates[0]!.fingerprint256, new (await import('node:crypto')).X509Certificate(payRenewed.certPem).fingerprint256, 'Pay trusts the renewed certificate');
  t.not(after.apis[2], before.apis[2], 'Later, waiting for a file, is compiled every time');
  t.equal(
    after.inventory.find((f) => f.alias === 'shop'),
    before.inventory.find((f) => f.alias === 'shop'),
    'shop.crt, unchanged: the same certificate file object',
  );
  t.same(plain(second), plain(await fresh(file)), 'equal to a load from scratch, diagnostics included');
  t.equal(second.diagnostics.filter((d) => d.code === 'CERT_HOSTNAME').length, first.diagnostics.filter((d) => d.code === 'CERT_HOSTNAME').length, "the reused APIs' warnings are there");
});

t.test('a file for a waiting alias appears: that API is ready, the others are reused', async (t) => {
  const dir = t.testdir({ 'gateway.yaml': yaml(), certs: { 'shop.crt': shop.certPem, 'pay.crt': pay.certPem } });
  const file = path.join(dir, 'gateway.yaml');
  const cache = new DocumentCache({ racyMs: 0 });
  const before = (await loadConfig(file, { env: {}, cache, freeze: false })).config!;
  writeFileSync(path.join(dir, 'certs', 'later.crt'), later.certPem);
  const second = await loadConfig(file, { env: {}, cache, freeze: false });
  t.equal(second.config!.apis[0], before.apis[0]);
  t.equal(second.config!.apis[1], before.apis[1]);
  t.same(second.config!.apis[2]!.production.targets[0]!.pendingAliases, [], 'Later has its file');
  t.notOk(second.diagnostics.some((d) => d.code === 'CERT_PENDING'));
  t.same(plain(second), plain(await fresh(file)));
});

t.test('the configuration file edited: every API is compiled again, and equals a load from scratch', async (t) => {
  const dir = t.testdir({ 'gateway.yaml': yaml(), certs: { 'shop.crt': shop.certPem, 'pay.crt': pay.certPem } });
  const file = path.join(dir, 'gateway.yaml');
  const cache = new DocumentCache({ racyMs: 0 });
  const before = (await loadConfig(file, { env: {}, cache, freeze: false })).config!;
  writeFileSync(file, yaml('61s'));
  const second = await loadConfig(file, { env: {}, cache, freeze: false });
  t.not(second.config!.apis[1], before.apis[1], 'a new document: nothing of the old one is assumed');
  t.equal(second.config!.apis[0]!.production.targets[0]!.timeouts.socketMs, 61_000);
  t.same(plain(second), plain(await fresh(file)));
});

t.test('a certificate file removed: the APIs that trusted it are compiled again and wait for it', async (t) => {
  const dir = t.testdir({ 'gateway.yaml': yaml(), certs: { 'shop.crt': shop.certPem, 'pay.crt': pay.certPem } });
  const file = path.join(dir, 'gateway.yaml');
  const cache = new DocumentCache({ racyMs: 0 });
  const before = (await loadConfig(file, { env: {}, cache, freeze: false })).config!;
  const { rmSync } = await import('node:fs');
  rmSync(path.join(dir, 'certs', 'pay.crt'));
  const second = await loadConfig(file, { env: {}, cache, freeze: false });
  t.equal(second.config!.apis[0], before.apis[0]);
  t.same(second.config!.apis[1]!.production.targets[0]!.pendingAliases, ['pay']);
  t.same(plain(second), plain(await fresh(file)));
});
