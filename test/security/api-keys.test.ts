// API keys (SPEC §11, docs/security.md) against real backends that record what they receive: 401
// without a key, with an unknown one or two; 403 for a key of another API and for a sandbox key
// where there is no sandbox; the key's type choosing the endpoint whatever the headers say; the
// key never reaching the backend nor the log; the keys file validated at its lines, and edited
// under load (an added key works after the reload, a removed key is refused).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { hashApiKey, newApiKey, parseKeysFile } from '../../src/config/keys.js';
import { loadConfig } from '../../src/config/load.js';
import { startBackend } from '../helpers/backend.js';
import { request } from '../helpers/client.js';
import { startTestGateway } from '../helpers/gateway.js';
import { parsePrometheus, select } from '../helpers/prometheus.js';

const production = newApiKey();
const sandbox = newApiKey();
const other = newApiKey();

const keysFile = (...entries: string[]) => entries.join('');
const entry = (name: string, sha256: string, type: 'production' | 'sandbox', apis: string[]) => `- { name: ${name}, sha256: ${sha256}, type: ${type}, apis: [${apis.join(', ')}] }\n`;
const KEYS = keysFile(entry('orders-web', production.sha256, 'production', ['Orders']), entry('orders-test', sandbox.sha256, 'sandbox', ['Orders', 'Reports']), entry('billing', other.sha256, 'production', ['Billing']));

const gatewayYaml = (prod: string, sand: string, open: string) => `version: 1
listen: { http: "127.0.0.1:0" }
admin: { address: "127.0.0.1:0" }
reload: { interval: 100ms }
keys: { file: ./keys.yaml }
defaults:
  security: { apiKey: {} }
apis:
  - { name: Orders, context: /orders, version: v1, endpoints: { production: { url: "${prod}" }, sandbox: { url: "${sand}" } } }
  - { name: Reports, context: /reports, version: v1, endpoints: { production: { url: "${prod}" } } }
  - { name: Billing, context: /billing, version: v1, security: { apiKey: { header: X-API-Key } }, endpoints: { production: { url: "${prod}" } } }
  - { name: Open, context: /open, version: v1, security: {}, endpoints: { production: { url: "${open}" }, sandbox: { url: "${sand}" } } }
`;

async function setup(t: Test) {
  const prod = await startBackend(t, { handler: (_req, res) => res.end('production') });
  const sand = await startBackend(t, { handler: (_req, res) => res.end('sandbox') });
  const open = await startBackend(t, { handler: (_req, res) => res.end('open') });
  const gw = await startTestGateway(t, gatewayYaml(prod.url, sand.url, open.url), { 'keys.yaml': KEYS });
  return { prod, sand, open, gw };
}

const codeOf = (res: { text: string }) => (JSON.parse(res.text) as { error: { code: string; message: string } }).error;

t.test('a production key reaches production; the key never reaches the backend nor the log', async (t) => {
  const { prod, gw } = await setup(t);
  const res = await request(`${gw.url}/orders/v1/items`, { headers: { apikey: production.key, 'x-request-id': 'key-1' } });
  t.equal(res.status, 200);
  t.equal(res.text, 'production');
  const received = prod.requests.at(-1)!;
  t.notOk('apikey' in received.headers, 'the apikey header was removed before the backend');
  t.notOk(received.rawHeaders.some((h) => h.includes(production.key)), 'the key appears nowhere in what the backend received');
  const line = await gw.logs.request('key-1');
  t.equal(line.apiKey, 'orders-web', 'the access line names the key by its name');
  t.notOk(JSON.stringify(gw.logs.lines).includes(production.key), 'no log line holds the key');
});

t.test('401 UNAUTHENTICATED: no key, an empty one, an unknown one, two; with WWW-Authenticate', async (t) => {
  const { prod, gw } = await setup(t);
  const cases: [string, Record<string, string | string[]>][] = [
    ['no key', {}],
    ['an empty key', { apikey: '' }],
    ['an unknown key', { apikey: newApiKey().key }],
    ['two keys', { apikey: [production.key, production.key] }],
    ["the key's hash instead of the key", { apikey: production.sha256 }],
  ];
  for (const [what, headers] of cases) {
    const res = await request(`${gw.url}/orders/v1/items`, { headers });
    t.equal(res.status, 401, `${what}: 401`);
    t.equal(codeOf(res).code, 'UNAUTHENTICATED', what);
    t.equal(res.headers['www-authenticate'], 'ApiKey realm="Orders", header="apikey"', `${what}: the challenge names the header`);
  }
  t.equal(prod.requests.length, 0, 'nothing reached the backend');
});

t.test('403 FORBIDDEN: a valid key of another API; a sandbox key on an API without sandbox is never sent to production', async (t) => {
  const { prod, gw } = await setup(t);
  const wrong = await request(`${gw.url}/orders/v1/items`, { headers: { apikey: other.key, 'x-request-id': 'key-403' } });
  t.equal(wrong.status, 403);
  t.equal(codeOf(wrong).code, 'FORBIDDEN');
  t.notMatch(codeOf(wrong).message, /billing/, "the client's message does not name the key");
  t.equal((await gw.logs.request('key-403')).apiKey, 'billing', 'the log does');
  const noSandbox = await request(`${gw.url}/reports/v1/`, { headers: { apikey: sandbox.key } });
  t.equal(noSandbox.status, 403, 'Reports has no sandbox: a sandbox key is refused');
  t.match(codeOf(noSandbox).message, /no sandbox endpoint/);
  t.equal(prod.requests.length, 0, 'production never saw either');
});

t.test("the key's type chooses the endpoint, whatever headers the client sends", async (t) => {
  const { gw } = await setup(t);
  const toProduction = await request(`${gw.url}/orders/v1/items`, { headers: { apikey: production.key, 'x-gatehouse-environment': 'sandbox' } });
  t.equal(toProduction.text, 'production', 'a production key with the sandbox header still goes to production');
  const toSandbox = await request(`${gw.url}/orders/v1/items`, { headers: { apikey: sandbox.key } });
  t.equal(toSandbox.text, 'sandbox', 'a sandbox key goes to sandbox');
  const sandboxAnyway = await request(`${gw.url}/orders/v1/items`, { headers: { apikey: sandbox.key, 'x-gatehouse-environment': 'production' } });
  t.equal(sandboxAnyway.text, 'sandbox', 'and stays there whatever the header says');
  const open = await request(`${gw.url}/open/v1/x`, { headers: { 'x-gatehouse-environment': 'sandbox' } });
  t.equal(open.text, 'sandbox', 'an open API (security: {}) keeps routing.sandboxHeader');
  t.equal((await request(`${gw.url}/open/v1/x`)).text, 'open', 'and needs no key');
});

t.test("an API's own header (X-API-Key), matched in any case and removed", async (t) => {
  const { prod, gw } = await setup(t);
  t.equal((await request(`${gw.url}/billing/v1/`, { headers: { apikey: other.key } })).status, 401, 'the default header is not this API’s');
  const res = await request(`${gw.url}/billing/v1/`, { headers: { 'X-API-KEY': other.key } });
  t.equal(res.status, 200);
  t.notOk('x-api-key' in prod.requests.at(-1)!.headers, 'removed before the backend');
});

t.test('the keys file edited under load: an added key works after the reload, a removed key is refused, no request fails otherwise', async (t) => {
  const { gw } = await setup(t);
  const added = newApiKey();
  const failures: string[] = [];
  let stop = false;
  const load = (async () => {
    while (!stop) {
      const res = await request(`${gw.url}/orders/v1/items`, { headers: { apikey: production.key } });
      if (res.status !== 200) failures.push(`${res.status} ${res.text}`);
    }
  })();
  t.equal((await request(`${gw.url}/orders/v1/items`, { headers: { apikey: added.key } })).status, 401, 'not yet in the file');
  writeFileSync(path.join(gw.dir, 'keys.yaml'), KEYS + entry('orders-mobile', added.sha256, 'production', ['Orders']));
  await gw.logs.waitFor((l) => l.msg === 'configuration applied', 10_000);
  t.equal((await request(`${gw.url}/orders/v1/items`, { headers: { apikey: added.key } })).status, 200, 'the added key works after the reload');
  const before = gw.logs.lines.filter((l) => l.msg === 'configuration applied').length;
  writeFileSync(path.join(gw.dir, 'keys.yaml'), keysFile(entry('orders-web', production.sha256, 'production', ['Orders'])));
  await gw.logs.waitFor((l) => l.msg === 'configuration applied' && gw.logs.lines.filter((x) => x.msg === 'configuration applied').length > before, 10_000);
  t.equal((await request(`${gw.url}/orders/v1/items`, { headers: { apikey: added.key } })).status, 401, 'the removed key is refused');
  t.equal((await request(`${gw.url}/orders/v1/items`, { headers: { apikey: sandbox.key } })).status, 401, 'so is the other removed one');
  stop = true;
  await load;
  t.same(failures, [], 'the key that stayed worked throughout');
});

t.test('a broken keys file is rejected at reload naming the file and the line; the old keys keep working', async (t) => {
  const { gw } = await setup(t);
  writeFileSync(path.join(gw.dir, 'keys.yaml'), KEYS + `- { name: pasted, sha256: ${newApiKey().key}, type: production, apis: [Orders] }\n`);
  const outcome = await gw.gateway.reloader.reloadNow('test');
  t.equal(outcome.kind, 'rejected');
  const error = outcome.kind === 'rejected' ? outcome.diagnostics.find((d) => d.code === 'KEYS_FILE') : undefined;
  t.match(error, { file: path.join(gw.dir, 'keys.yaml'), line: 4, message: /entry 4 \("pasted"\): sha256 must be 64 lowercase hex digits.*this is a key itself/ });
  t.notOk(JSON.stringify(gw.logs.lines).includes('ghk_'), 'the pasted key is not quoted in any log line');
  t.equal((await request(`${gw.url}/orders/v1/items`, { headers: { apikey: production.key } })).status, 200, 'the running keys keep working');
});

t.test('the keys file: each problem at its line, never a sha256 value quoted', async (t) => {
  const file = '/keys.yaml';
  const problems = (text: string) => parseKeysFile(text, file).diagnostics.map((d) => `${d.line}: ${d.message}`);
  t.same(problems('- { name: a, sha256: ' + 'a'.repeat(64) + ', type: production, apis: [A] }\n'), [], 'a valid entry');
  t.same(parseKeysFile('', file).entries, [], 'an empty file holds no key');
  t.same(problems('name: a\n'), ['1: the keys file is a list of entries ({ name, sha256, type, apis, plan }), one per key']);
  t.same(problems(`- name: a\n  sha256: ${'A'.repeat(64)}\n  type: live\n  apis: []\n  tier: Gold\n`), [
    '1: entry 1 ("a"): unknown key "tier" (known: name, sha256, type, apis, plan)',
    "2: entry 1 (\"a\"): sha256 must be 64 lowercase hex digits, the SHA-256 of the key (`gatehouse key new` prints one)",
    '3: entry 1 ("a"): type must be production or sandbox (got "live")',
    '4: entry 1 ("a"): apis lists no API: name one at least (a key for no API is a key nobody needs)',
  ], 'all at once, each at its line');
  const h = hashApiKey('k');
  t.same(problems(`- { name: a, sha256: ${h}, type: production, apis: [A] }\n- { name: a, sha256: ${h}, type: sandbox, apis: [B] }\n`), [
    `2: the name "a" is also entry 1's: each key has its own name (the log and the metrics tell keys apart by it)`,
    '2: the same key as entry 1 ("a"): one key, one entry',
  ]);
  t.same(problems('- { name: a, type: production, apis: [A] }\n'), ['1: entry 1 ("a"): "sha256" is missing (each entry has name, sha256, type and apis)']);
  t.equal(parseKeysFile('- [\n', file).diagnostics[0]?.code, 'CONFIG_SYNTAX');
});

t.test('the configuration: security.apiKey needs keys.file; keys for unknown or open APIs are warned about', async (t) => {
  const dir = t.testdir({
    'no-keys.yaml': 'version: 1\napis:\n  - { name: A, context: /a, version: v1, security: { apiKey: {} }, endpoints: { production: { url: "http://127.0.0.1:1" } } }\n',
    'with-keys.yaml': 'version: 1\nkeys: { file: keys.yaml }\napis:\n  - { name: Orders, context: /a, version: v1, endpoints: { production: { url: "http://127.0.0.1:1" } } }\n',
    'keys.yaml': entry('k1', hashApiKey('1'), 'production', ['orders']) + entry('k2', hashApiKey('2'), 'production', ['Orders']),
    'missing-file.yaml': 'version: 1\nkeys: { file: nowhere.yaml }\napis:\n  - { name: Orders, context: /a, version: v1, endpoints: { production: { url: "http://127.0.0.1:1" } } }\n',
  });
  const noKeys = await loadConfig(path.join(dir, 'no-keys.yaml'), { env: {} });
  t.match(noKeys.diagnostics, [{ severity: 'error', code: 'CONFIG_MISSING_KEY', line: 3, message: /no keys file is given/ }]);
  const withKeys = await loadConfig(path.join(dir, 'with-keys.yaml'), { env: {} });
  t.ok(withKeys.config, 'loads');
  t.match(
    withKeys.diagnostics.map((d) => [d.code, d.line, d.message]),
    [
      ['KEYS_FILE', 1, /names the API "orders", which the configuration does not define \(did you mean "Orders"\?\)/],
      ['KEYS_FILE', 2, /requires no key/],
    ],
  );
  const missing = await loadConfig(path.join(dir, 'missing-file.yaml'), { env: {} });
  t.notOk(missing.config, 'a keys file that cannot be read stops the load: never an empty list of keys');
  t.match(missing.diagnostics, [{ code: 'KEYS_FILE', file: path.join(dir, 'nowhere.yaml'), message: /cannot read the keys file/ }]);
});

t.test('gatehouse_auth_requests_total counts each outcome by API', async (t) => {
  const { gw } = await setup(t);
  await request(`${gw.url}/orders/v1/items`, { headers: { apikey: production.key } });
  await request(`${gw.url}/orders/v1/items`, { headers: { apikey: sandbox.key } });
  await request(`${gw.url}/orders/v1/items`);
  await request(`${gw.url}/orders/v1/items`, { headers: { apikey: other.key } });
  await request(`${gw.url}/open/v1/x`);
  const samples = parsePrometheus((await request(`${gw.adminUrl}/metrics`)).text);
  const value = (outcome: string) => select(samples, 'gatehouse_auth_requests_total', { api: 'Orders', version: 'v1', outcome })[0]?.value;
  t.equal(value('allowed'), 2, 'a production and a sandbox key: one series for the API, its endpoints summed');
  t.equal(value('unauthenticated'), 1);
  t.equal(value('forbidden'), 1);
  t.equal(select(samples, 'gatehouse_auth_requests_total', { api: 'Open' }).length, 0, 'an open API has no series');
});
