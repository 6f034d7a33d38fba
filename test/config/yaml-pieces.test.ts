// A file parsed in pieces (src/config/yaml-chunks.ts) must mean exactly what it means parsed
// whole: the same data, and every value and key at the same line and column. Files the pieces
// cannot represent must take the whole-file path, with its messages.
import { readFileSync } from 'node:fs';
import t from 'tap';
import type { Test } from 'tap';
import { parseConfigText } from '../../src/config/parse.js';
import type { ParseResult } from '../../src/config/parse.js';
import { childPointer, isRecord } from '../../src/config/source-map.js';
import { YamlPieceCache, parseInPieces } from '../../src/config/yaml-chunks.js';

const FILE = '/config/gateway.yaml';

function pointersOf(value: unknown, pointer = '', out: string[] = []): string[] {
  out.push(pointer);
  if (Array.isArray(value)) value.forEach((item, i) => pointersOf(item, childPointer(pointer, i), out));
  else if (isRecord(value)) for (const [key, item] of Object.entries(value)) pointersOf(item, childPointer(pointer, key), out);
  return out;
}

/** Parsed in pieces (checked: it did not fall back) and whole: the same data, the same positions. */
function samePieceParse(t: Test, text: string, name: string, cache = new YamlPieceCache()): void {
  t.ok(parseInPieces(text, new YamlPieceCache()), `${name}: parsed in pieces`);
  const whole = parseConfigText(text, FILE, 'yaml');
  const pieces = parseConfigText(text, FILE, 'yaml', cache);
  if (!whole.ok || !pieces.ok) return void t.fail(`${name}: both parse`);
  t.same(pieces.data, whole.data, `${name}: the same data`);
  const differences = pointersOf(whole.data).flatMap((pointer) =>
    (['key', 'value'] as const).flatMap((prefer) => {
      const a = whole.sourceMap.locate(pointer, prefer);
      const b = pieces.sourceMap.locate(pointer, prefer);
      return JSON.stringify(a) === JSON.stringify(b) && whole.sourceMap.text(pointer) === pieces.sourceMap.text(pointer) ? [] : [`${pointer} (${prefer}): ${JSON.stringify(a)} vs ${JSON.stringify(b)}`];
    }),
  );
  t.same(differences, [], `${name}: every key and value at the same line and column`);
}

const api = (i: number) => `  - { name: Api${i}, context: /api${i}, version: v1, endpoints: { production: { url: "https://127.0.0.1:9443/svc/${i}", certificate: cert${i}, timeouts: { socket: 60s } } } }`;

const block = `# The gateway
version: 1
listen: { http: "127.0.0.1:8280" }

apis:
  # Shop first
  - name: Shop
    context: /shop
    version: "1.0"
    resources:
      - path: /order/{id}
        methods: [GET, PUT]
      - { path: /orders, methods: [GET] }
    endpoints:
      production:
        url: "https://shop.internal:9443/api"
        certificate: [shop-old, shop-new]
# a comment at the first column, inside the list

  - name: Pay
    context: /pay
    version: v2
    description: |
      - not an item: text of a block scalar
      apis:
    endpoints:
      production: { url: "https://pay.internal:9443",
        certificate: pay }
      sandbox:
        url: 'https://pay.sandbox:9443'
  - name: "Multi
      line"
    context: /multi
    version: v1
    endpoints: { production: { url: "http://127.0.0.1:8080" } }

# trailing words about the list
routing: { sandboxHeader: X-Env }
defaults:
  timeouts: { connect: 2s }
`;

t.test('files parsed in pieces mean what they mean parsed whole', async (t) => {
  samePieceParse(t, ['version: 1', 'apis:', ...Array.from({ length: 50 }, (_, i) => api(i)), ''].join('\n'), 'flow items');
  samePieceParse(t, block, 'block items, comments, a block scalar, a flow map over two lines, keys after the list');
  samePieceParse(t, block.replace(/\n/g, '\r\n'), 'the same with CRLF line endings');
  samePieceParse(t, 'version: 1\napis:\n- name: A\n  context: /a\n  version: v1\n  endpoints: { production: { url: "http://127.0.0.1:1" } }\n- name: B\n  context: /b\n  version: v1\n  endpoints: { production: { url: "http://127.0.0.1:2" } }\n', 'items at the first column (compact notation)');
  samePieceParse(t, `apis:\n${api(1)}\n${api(2)}\nversion: 1`, 'the list first, no newline at the end');
  for (const file of ['gateway.yaml', 'examples/production-sandbox.yaml', 'examples/tls-overrides.yaml', 'examples/versions.yaml', 'examples/environment.yaml', 'examples/self-signed-backend.yaml']) {
    samePieceParse(t, readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'), file);
  }
});

t.test('an edit parses again only the item it changed; the rest is the pieces parsed before', async (t) => {
  const cache = new YamlPieceCache();
  const text = (socket: string) => ['version: 1', 'apis:', api(0), api(1).replace('60s', socket), api(2), ''].join('\n');
  const before = parseConfigText(text('60s'), FILE, 'yaml', cache);
  const after = parseConfigText(text('61s'), FILE, 'yaml', cache);
  if (!before.ok || !after.ok) return void t.fail('both parse');
  const apis = (r: ParseResult & { ok: true }) => (r.data as { apis: unknown[] }).apis;
  t.equal(apis(after)[0], apis(before)[0], 'an unchanged item: the same parsed value');
  t.equal(apis(after)[2], apis(before)[2]);
  t.not(apis(after)[1], apis(before)[1], 'the edited item: parsed again');
  t.match(apis(after)[1], { endpoints: { production: { timeouts: { socket: '61s' } } } });
  t.ok(Object.isFrozen(apis(after)[0]), 'shared values are frozen: no later stage can change them for the next load');
  samePieceParse(t, text('61s'), 'after the edit', cache);
});

t.test('a version of the file parsed whole in between keeps the pieces for the next', async (t) => {
  const cache = new YamlPieceCache();
  const text = ['version: 1', 'apis:', api(0), api(1), ''].join('\n');
  const before = parseConfigText(text, FILE, 'yaml', cache);
  // An anchor: the whole file is parsed, no piece is used.
  const anchored = parseConfigText(['version: 1', 'x: &a 1', 'y: *a', 'apis:', api(0), api(1), ''].join('\n'), FILE, 'yaml', cache);
  const again = parseConfigText(text, FILE, 'yaml', cache);
  if (!before.ok || !anchored.ok || !again.ok) return void t.fail('all parse');
  const apis = (r: ParseResult & { ok: true }) => (r.data as { apis: unknown[] }).apis;
  t.not(apis(anchored)[0], apis(before)[0], 'the anchored file was parsed whole');
  t.equal(apis(again)[0], apis(before)[0], 'back to the first version: its pieces were kept, not parsed again');
  t.equal(apis(again)[1], apis(before)[1]);
});

t.test('what pieces cannot represent is parsed whole, with the whole-file messages', async (t) => {
  const cases: Record<string, string> = {
    'an anchor and an alias': `version: 1\napis:\n  - &shop { name: Shop, context: /shop, version: v1, endpoints: { production: { url: "http://127.0.0.1:1" } } }\n  - *shop\n`,
    'a merge key': `version: 1\nx: &base { version: v1 }\napis:\n  - { <<: *base, name: A, context: /a, endpoints: { production: { url: "http://127.0.0.1:1" } } }\n`,
    'a document marker': `---\nversion: 1\napis:\n${api(1)}\n`,
    'apis as a flow sequence': `version: 1\napis: [ { name: A } ]\n`,
    'apis twice': `version: 1\napis:\n${api(1)}\napis:\n${api(2)}\n`,
    'a syntax error in an item': `version: 1\napis:\n${api(1)}\n  - { name: B, context: /b\n${api(3)}\n`,
    'a duplicate key in an item': `version: 1\napis:\n  - { name: A, name: B }\n`,
    'a tab': `version: 1\napis:\n${api(1)}\n\t\n`,
    'a key indented like the items': `version: 1\napis:\n${api(1)}\n  other: 1\n`,
  };
  for (const [name, text] of Object.entries(cases)) {
    t.equal(parseInPieces(text, new YamlPieceCache()), undefined, `${name}: not in pieces`);
    t.same(parseConfigText(text, FILE, 'yaml', new YamlPieceCache()), parseConfigText(text, FILE, 'yaml'), `${name}: the same result as parsed whole`);
  }
});
