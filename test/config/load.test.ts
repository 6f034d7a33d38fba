// The compiled configuration: inheritance, milliseconds, schema defaults, freezing, YAML and TOML
// alike, interpolation, and the revision hash.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { interpolate } from '../../src/config/interpolate.js';
import { issue } from '../helpers/pki.js';
import { loadFixture } from '../helpers/workspace.js';

const schemaText = readFileSync(new URL('../../schemas/gateway.schema.json', import.meta.url), 'utf8');

/** The schema's default at a dotted path of properties, read from the file itself. */
function schemaDefault(dotted: string): string {
  let node = JSON.parse(schemaText) as { properties?: Record<string, unknown>; default?: unknown };
  for (const key of dotted.split('.')) node = node.properties![key] as typeof node;
  return node.default as string;
}

const layered = `version: 1
defaults:
  timeouts: { connect: 2s }
  tls: { hostnameVerifier: DefaultAndLocalhost }
  headers: { removeAuthorization: true }
apis:
  - name: Shop
    context: /shop
    version: "1.0"
    default: true
    timeouts: { socket: 2m }
    tls: { protocols: [TLSv1.3] }
    endpoints:
      production:
        url: https://shop.internal:9443/api/
        timeouts: { connect: 500ms }
      sandbox:
        url: http://127.0.0.1:8080
        headers: { preserveHost: true, removeAuthorization: false }
    resources:
      - { path: "/order/{id}", methods: [GET, PUT] }
`;

const layeredToml = `version = 1

[defaults]
timeouts = { connect = "2s" }
tls = { hostnameVerifier = "DefaultAndLocalhost" }
headers = { removeAuthorization = true }

[[apis]]
name = "Shop"
context = "/shop"
version = "1.0"
default = true
timeouts = { socket = "2m" }
tls = { protocols = ["TLSv1.3"] }
resources = [ { path = "/order/{id}", methods = ["GET", "PUT"] } ]

[apis.endpoints.production]
url = "https://shop.internal:9443/api/"
timeouts = { connect = "500ms" }

[apis.endpoints.sandbox]
url = "http://127.0.0.1:8080"
headers = { preserveHost = true, removeAuthorization = false }
`;

t.test('an endpoint inherits from its API, then from defaults, then from the schema', async (t) => {
  const { config, text } = await loadFixture(t, { 'gateway.yaml': layered, certs: {} });
  t.equal(text, '');
  const api = config!.apis[0]!;
  t.match(api, { name: 'Shop', context: '/shop', version: '1.0', isDefault: true, path: 'apis[0]' });
  t.same(api.resources, [{ path: '/order/{id}', methods: ['GET', 'PUT'] }]);
  const names = {
    role: 'production',
    path: 'apis[0].endpoints.production',
    pointer: '/apis/0/endpoints/production',
    api: { name: api.name, version: api.version },
    name: `${api.name} ${api.version} production`,
    description: `API "${api.name}" version ${api.version}, production endpoint`,
  };
  // A v1 url is an endpoint of one target, never suspended, with the schema's suspension defaults.
  t.same({ ...api.production, targets: api.production.targets.length }, {
    ...names,
    group: false,
    balance: 'round-robin',
    targets: 1,
    suspend: { initialMs: 30_000, factor: 2, maxMs: 300_000 },
  });
  t.same(api.production.targets[0], {
    ...names,
    index: 0,
    weight: 1,
    url: 'https://shop.internal:9443/api/',
    protocol: 'https:',
    hostname: 'shop.internal',
    port: 9443,
    origin: 'https://shop.internal:9443',
    basePath: '/api',
    certificateAliases: [],
    certificates: [],
    pendingAliases: [],
    tls: { protocols: ['TLSv1.3'], minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', hostnameVerifier: 'DefaultAndLocalhost', trustSystemCAs: true },
    timeouts: { connectMs: 500, socketMs: 120_000 },
    headers: { removeAuthorization: true, forwarded: true, preserveHost: false },
  });
  t.match(api.sandbox!.targets[0], {
    protocol: 'http:',
    port: 8080,
    basePath: '',
    timeouts: { connectMs: 2_000, socketMs: 120_000 },
    headers: { removeAuthorization: false, forwarded: true, preserveHost: true },
  });
});

t.test('YAML and TOML give the same configuration', async (t) => {
  const yaml = await loadFixture(t, { 'gateway.yaml': layered, certs: {} });
  const toml = await loadFixture(t, { 'gateway.toml': layeredToml, certs: {} }, { config: 'gateway.toml' });
  t.equal(toml.text, '');
  const strip = (c: typeof yaml.config) => ({ ...c, file: undefined, revision: undefined, certs: { ...c!.certs, directory: undefined } });
  t.same(strip(toml.config), strip(yaml.config));
});

t.test('every default comes from the schema', async (t) => {
  const { config } = await loadFixture(t, { 'gateway.yaml': 'version: 1\napis: []\n', certs: {} });
  const ms = (v: string) => ({ s: 1000, d: 86_400_000, m: 60_000 })[v.slice(-1) as 's' | 'd' | 'm'] * Number(v.slice(0, -1));
  t.same(config!.listen.http, { host: '0.0.0.0', port: Number(schemaDefault('listen.http').split(':')[1]) });
  t.same(config!.admin.address, { host: '127.0.0.1', port: Number(schemaDefault('admin.address').split(':')[1]) });
  t.equal(config!.certs.warnBeforeMs, ms(schemaDefault('certs.warnBefore')));
  t.equal(config!.certs.expired, schemaDefault('certs.expired'));
  t.equal(config!.certs.directory, path.resolve(path.dirname(config!.file), schemaDefault('certs.directory')));
  t.equal(config!.reload.intervalMs, ms(schemaDefault('reload.interval')));
  t.equal(config!.reload.preflight, schemaDefault('reload.preflight'));
  t.equal(config!.routing.sandboxHeader, schemaDefault('routing.sandboxHeader'));
  const endpointDefaults = await loadFixture(t, { 'gateway.yaml': 'version: 1\napis:\n  - { name: A, context: /a, version: v1, endpoints: { production: { url: "https://a" } } }\n', certs: {} });
  const endpoint = endpointDefaults.config!.apis[0]!.production.targets[0]!;
  t.equal(endpoint.timeouts.connectMs, ms(schemaDefault('defaults.timeouts.connect')));
  t.equal(endpoint.timeouts.socketMs, ms(schemaDefault('defaults.timeouts.socket')));
  t.equal(endpoint.tls.hostnameVerifier, schemaDefault('defaults.tls.hostnameVerifier'));
  t.equal(config!.admin.token, undefined);
});

t.test('the configuration is deep-frozen', async (t) => {
  const shop = issue({ cn: 'shop.internal', sans: ['shop.internal'] });
  const { config } = await loadFixture(t, {
    'gateway.yaml': 'version: 1\napis:\n  - { name: A, context: /a, version: v1, endpoints: { production: { url: "https://shop.internal", certificate: s } } }\n',
    certs: { 's.crt': shop.certPem },
  });
  const endpoint = config!.apis[0]!.production.targets[0]!;
  t.ok(Object.isFrozen(config));
  t.ok(Object.isFrozen(config!.apis));
  t.ok(Object.isFrozen(endpoint.tls.protocols));
  t.ok(Object.isFrozen(endpoint.certificates[0]!.certificates[0]));
  t.throws(() => {
    (endpoint.timeouts as { connectMs: number }).connectMs = 1;
  }, TypeError);
});

t.test('${VAR} expansion: set, defaulted, empty, literal $${', async (t) => {
  const { config, text } = await loadFixture(
    t,
    {
      'gateway.yaml': `version: 1
admin: { token: "\${TOKEN}" }
reload: { interval: "\${INTERVAL_MS:-2500}" }
apis:
  - name: A
    context: /a
    version: "\${API_VERSION:-v9}"
    endpoints:
      production: { url: "https://\${BACKEND_HOST}:\${BACKEND_PORT:-9443}/\${EMPTY:-base}" }
      sandbox: { url: "https://sandbox/$\${literal}" }
`,
      certs: {},
    },
    { env: { TOKEN: 'abc', BACKEND_HOST: 'shop.internal', EMPTY: '' } },
  );
  t.equal(text, '');
  t.equal(config!.admin.token, 'abc');
  t.equal(config!.reload.intervalMs, 2500);
  t.equal(config!.apis[0]!.version, 'v9');
  t.equal(config!.apis[0]!.production.targets[0]!.url, 'https://shop.internal:9443/base');
  t.equal(config!.apis[0]!.sandbox!.targets[0]!.url, 'https://sandbox/${literal}');
});

t.test('expansion works on values only: a variable cannot add keys', async (t) => {
  const result = interpolate({ a: '${X}', list: ['${X}'], __proto__key: 1 }, { X: 'b: c\nd: {e: 1}' });
  t.same(result.data, { a: 'b: c\nd: {e: 1}', list: ['b: c\nd: {e: 1}'], __proto__key: 1 });
  t.same([...result.expanded].sort(), ['/a', '/list/0']);
});

t.test('a key named __proto__ is reported as unknown, never merged into a prototype', async (t) => {
  const { text } = await loadFixture(t, { 'gateway.yaml': 'version: 1\napis: []\n__proto__: { polluted: true }\n', certs: {} });
  t.match(text, /^gateway\.yaml:3:1  __proto__: unknown key "__proto__"/);
  t.equal(({} as Record<string, unknown>).polluted, undefined);
});

t.test('the revision covers the configuration and its certificates, and nothing else', async (t) => {
  const a = issue({ cn: 'shop.internal', sans: ['shop.internal'] });
  const b = issue({ cn: 'shop.internal', sans: ['shop.internal'] });
  const text = 'version: 1\napis:\n  - { name: A, context: /a, version: v1, endpoints: { production: { url: "https://shop.internal", certificate: s } } }\n';
  const first = await loadFixture(t, { 'gateway.yaml': text, certs: { 's.crt': a.certPem } });
  const file = path.join(first.dir, 'gateway.yaml');
  const again = await loadConfig(file, { env: {} });
  t.equal(again.config!.revision, first.config!.revision, 'the same files give the same revision');

  writeFileSync(path.join(first.dir, 'certs', 'unrelated.crt'), b.certPem);
  t.equal((await loadConfig(file, { env: {} })).config!.revision, first.config!.revision, 'an unreferenced certificate does not change it');

  writeFileSync(path.join(first.dir, 'certs', 's.crt'), b.certPem);
  const rotated = (await loadConfig(file, { env: {} })).config!;
  t.not(rotated.revision, first.config!.revision, 'a referenced certificate changes it');
  t.same(rotated.inventory.map((f) => f.alias), ['s', 'unrelated'], 'the inventory holds every file');

  writeFileSync(file, text + '# a comment\n');
  t.not((await loadConfig(file, { env: {} })).config!.revision, rotated.revision, 'the configuration bytes change it');
});

t.test('a configuration that cannot be read', async (t) => {
  const dir = t.testdir({ folder: {} });
  const missing = await loadConfig(path.join(dir, 'nope.yaml'), { env: {} });
  t.same(missing.diagnostics.map((d) => [d.code, d.message]), [
    ['CONFIG_READ', 'cannot read the configuration: it does not exist (pass the file with -c, or run from its folder)'],
  ]);
  const folder = await loadConfig(path.join(dir, 'folder'), { env: {} });
  t.equal(folder.diagnostics[0]!.message, 'cannot read the configuration: it is a folder, not a file');
});
