// A configuration sent as what changed (src/config/delta.ts): real configurations loaded from real
// files, sent through a real structured clone (what postMessage and the workers' IPC do).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { applyDelta, encodeDelta, shareUnchanged } from '../../src/config/delta.js';
import { loadConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { createCA, issue } from '../helpers/pki.js';

const ca = createCA('Delta Test CA', { keyIndex: 0 });
const other = createCA('Delta Test Other CA', { keyIndex: 1 });
const listener = issue({ cn: 'gateway.test', sans: ['127.0.0.1'], issuer: ca, keyIndex: 2 });

const yaml = (shopSocket: string) => `version: 1
listen: { http: "127.0.0.1:0", https: { address: "127.0.0.1:0", certificate: gw } }
apis:
  - { name: Shop, context: /shop, version: v1, endpoints: { production: { url: "https://127.0.0.1:9443", certificate: ca, timeouts: { socket: ${shopSocket} } } } }
  - { name: Pay, context: /pay, version: v1, endpoints: { production: { url: "https://127.0.0.1:9444", certificate: other } } }
  - { name: Ship, context: /ship, version: v1, endpoints: { production: { url: "https://127.0.0.1:9445", certificate: ca } } }
`;

async function load(file: string, freeze = false): Promise<GatewayConfig> {
  const { config, diagnostics } = await loadConfig(file, { env: {}, freeze });
  if (!config) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  return config;
}

function everyObjectFrozen(value: unknown, seen = new Set<unknown>()): boolean {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value) || seen.has(value)) return true;
  seen.add(value);
  return Object.isFrozen(value) && Object.values(value).every((child) => everyObjectFrozen(child, seen));
}

t.test('an edit of one API and a replaced certificate file: only those travel whole; the rest is the held objects', async (t) => {
  const dir = t.testdir({
    'gateway.yaml': yaml('60s'),
    certs: { 'ca.crt': ca.certPem, 'other.crt': other.certPem, 'gw.crt': listener.certPem, 'gw.key': listener.keyPem },
  });
  const file = path.join(dir, 'gateway.yaml');
  // The main thread holds what the first load sent, frozen on arrival.
  const sentFirst = await load(file);
  const held = applyDelta(structuredClone(encodeDelta(sentFirst)));
  t.ok(everyObjectFrozen(held), 'a configuration received whole is deep-frozen');
  t.ok(Buffer.isBuffer(held.listen.https!.credentials.kind === 'pem' && held.listen.https!.credentials.cert), "the listener's certificate is a Buffer again after the clone");
  t.same(held, sentFirst, 'and equal to what was sent');

  writeFileSync(file, yaml('61s'));
  writeFileSync(path.join(dir, 'certs', 'other.crt'), createCA('Delta Test Other CA, renewed', { keyIndex: 1 }).certPem);
  const next = shareUnchanged(await load(file), sentFirst);
  t.equal(next.apis[2], sentFirst.apis[2], 'an unchanged API is the object sent before');
  t.not(next.apis[0], sentFirst.apis[0], 'the edited API is new');
  t.not(next.apis[1], sentFirst.apis[1], 'an API whose certificate file changed is new');
  t.equal(
    next.inventory.find((f) => f.alias === 'ca'),
    sentFirst.inventory.find((f) => f.alias === 'ca'),
    'an unchanged certificate file is the object sent before',
  );

  const delta = structuredClone(encodeDelta(next, sentFirst));
  t.equal(delta.apis[2], 2, 'the unchanged API travels as its index in the base');
  t.type(delta.apis[0], 'object', 'the edited API travels whole');
  t.type(delta.apis[1], 'object');
  t.equal(delta.inventory.filter((entry) => typeof entry === 'object').length, 1, 'one certificate file travels whole: the replaced one');

  const received = applyDelta(delta, held);
  t.same(received, next, 'the receiver holds the configuration that was sent');
  t.equal(received.apis[2], held.apis[2], "the unchanged API is the receiver's own object");
  t.equal(received.apis[0]!.production.targets[0]!.timeouts.socketMs, 61_000);
  t.ok(everyObjectFrozen(received), 'and every part of it, new or held, is frozen');
});

t.test('a delta applied to another configuration than its base is refused, not half-applied', async (t) => {
  const dir = t.testdir({
    'gateway.yaml': yaml('60s'),
    certs: { 'ca.crt': ca.certPem, 'other.crt': other.certPem, 'gw.crt': listener.certPem, 'gw.key': listener.keyPem },
  });
  const file = path.join(dir, 'gateway.yaml');
  const base = await load(file, true);
  const delta = structuredClone(encodeDelta(base, base));
  t.ok(delta.apis.every((entry) => typeof entry === 'number'), 'nothing changed: every API by its index');
  t.throws(() => applyDelta(delta), /another configuration than the one held/, 'without its base');
  t.throws(() => applyDelta(delta, { ...base, apis: base.apis.slice(1) }), /another configuration than the one held/, 'with a base of another size');
  t.equal(applyDelta(delta, base).apis[1], base.apis[1]);
});
