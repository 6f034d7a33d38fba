// Typed variables: a value that is exactly one ${VAR} reference takes the type the schema expects
// where it stands (a boolean, a number), through the real loader on real files, YAML and TOML;
// what fails names the variable at the reference's line and never quotes what the environment
// held. And the two readings of the schema: editors' (variables allowed) and Gatehouse's.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import ajvFormats from 'ajv-formats';
import t from 'tap';
import { interpolate } from '../../src/config/interpolate.js';
import { SCHEMA_URL, VARIABLE_DEFINITIONS, coerceReferences, editorSchema, schema, schemaAt, withoutVariables } from '../../src/config/schema.js';
import type { SchemaNode } from '../../src/config/schema.js';
import { loadFixture } from '../helpers/workspace.js';

/** Every switch of the language, each from its own variable (quoted where a flow map needs it). */
const switches = `version: 1
defaults:
  tls: { trustSystemCAs: "\${TRUST}" }
  headers:
    removeAuthorization: \${REMOVE_AUTH}
    forwarded: \${FORWARDED:-false}
    preserveHost: '\${PRESERVE}'
apis:
  - name: Orders
    context: /orders
    version: v1
    default: \${ORDERS_DEFAULT:-true}
    endpoints:
      production: { url: "http://orders.internal" }
`;

t.test('a whole reference becomes a boolean where the schema expects one, quoted or not', async (t) => {
  const { config, text } = await loadFixture(t, { 'gateway.yaml': switches, certs: {} }, { env: { TRUST: 'false', REMOVE_AUTH: 'TRUE', PRESERVE: 'True' } });
  t.equal(text, '');
  const api = config!.apis[0]!;
  t.equal(api.isDefault, true, 'the default of ${ORDERS_DEFAULT:-true}');
  t.equal(api.production.targets[0]!.tls.trustSystemCAs, false);
  t.same(api.production.targets[0]!.headers, { removeAuthorization: true, forwarded: false, preserveHost: true });
  t.equal(typeof api.production.targets[0]!.headers.forwarded, 'boolean', 'false, not the text "false" (which is truthy)');
});

t.test('every word YAML 1.2 reads as a boolean, and no other', async (t) => {
  const accepted: [string, boolean][] = [['true', true], ['True', true], ['TRUE', true], ['false', false], ['False', false], ['FALSE', false]];
  for (const [word, value] of accepted) {
    const { config, text } = await loadFixture(t, { 'gateway.yaml': switches, certs: {} }, { env: { TRUST: word, REMOVE_AUTH: 'true', PRESERVE: 'true' } });
    t.equal(text, '', word);
    t.equal(config!.apis[0]!.production.targets[0]!.tls.trustSystemCAs, value, word);
  }
  for (const word of ['yes', 'no', 'on', 'OFF', '1', '0', 'y']) {
    const { config, text } = await loadFixture(t, { 'gateway.yaml': switches, certs: {} }, { env: { TRUST: word, REMOVE_AUTH: 'true', PRESERVE: 'true' } });
    t.equal(config, undefined, word);
    t.equal(
      text,
      `gateway.yaml:3:26  defaults.tls.trustSystemCAs: TRUST=${JSON.stringify(word)}: must be true or false (yes/no, on/off and 1/0 are not booleans in YAML 1.2 or TOML)  [CONFIG_TYPE]\n`,
      word,
    );
  }
});

t.test('a value that is not a boolean names the variable at its line, and is never quoted', async (t) => {
  const env = { TRUST: 'hunter2-secret', REMOVE_AUTH: '', PRESERVE: 'true', FORWARDED: '' };
  const { config, text } = await loadFixture(t, { 'gateway.yaml': switches.replace('${FORWARDED:-false}', '${FORWARDED:-maybe}'), certs: {} }, { env });
  t.equal(config, undefined);
  t.equal(
    text,
    `gateway.yaml:3:26  defaults.tls.trustSystemCAs: TRUST must be true or false here (its value is not shown: it comes from the environment)  [CONFIG_TYPE]
gateway.yaml:5:26  defaults.headers.removeAuthorization: REMOVE_AUTH is set but empty; it must be true or false here  [CONFIG_TYPE]
gateway.yaml:6:16  defaults.headers.forwarded: FORWARDED is not set, and its default "maybe" must be true or false  [CONFIG_TYPE]
`,
    'one message per value, no second one from the schema',
  );
  t.notMatch(text, /hunter2/);
});

t.test('an unset variable is reported once, not also as a wrong type', async (t) => {
  const { text } = await loadFixture(t, { 'gateway.yaml': switches, certs: {} }, { env: { TRUST: 'true', PRESERVE: 'true' } });
  t.equal(text, 'gateway.yaml:5:26  defaults.headers.removeAuthorization: environment variable REMOVE_AUTH is not set (set it, or write ${REMOVE_AUTH:-default})  [CONFIG_ENV_UNSET]\n');
});

t.test('only a whole reference is read as a boolean; $${ stays a literal', async (t) => {
  const env = { TRUST: 'true', REMOVE_AUTH: 'true', PRESERVE: 'true' };
  const partial = await loadFixture(t, { 'gateway.yaml': switches.replace("'${PRESERVE}'", "'${PRESERVE} '"), certs: {} }, { env });
  t.equal(partial.text, "gateway.yaml:7:19  defaults.headers.preserveHost: must be true or false (got '${PRESERVE} ')  [CONFIG_TYPE]\n");
  const literal = await loadFixture(t, { 'gateway.yaml': switches.replace("'${PRESERVE}'", () => "'$${PRESERVE}'"), certs: {} }, { env });
  t.equal(literal.text, 'gateway.yaml:7:19  defaults.headers.preserveHost: must be true or false (got "${PRESERVE}")  [CONFIG_TYPE]\n', 'the literal ${ is text, which the schema Gatehouse reads refuses');
});

t.test('where text is accepted, a reference stays text: durations, sizes, addresses, enums', async (t) => {
  const { config, text } = await loadFixture(
    t,
    {
      'gateway.yaml': `version: 1
listen: { http: "\${PORT}" }
reload: { interval: "\${INTERVAL}", preflight: "\${PREFLIGHT}" }
defaults:
  tls: { hostnameVerifier: "\${VERIFIER}" }
apis:
  - name: A
    context: /a
    version: "\${VERSION}"
    maxBodySize: \${MAX_BODY}
    endpoints:
      production: { url: "https://a.internal", timeouts: { socket: "\${SOCKET_SECONDS}s" } }
`,
      certs: {},
    },
    { env: { PORT: '18280', INTERVAL: '1m30s', PREFLIGHT: 'warn', VERIFIER: 'DefaultAndLocalhost', VERSION: '2', MAX_BODY: '1048576', SOCKET_SECONDS: '90' } },
  );
  t.equal(text, '');
  t.equal(config!.listen.http.port, 18280);
  t.equal(config!.reload.intervalMs, 90_000);
  t.equal(config!.reload.preflight, 'warn');
  t.equal(config!.apis[0]!.version, '2', 'a version from a variable stays a string');
  t.equal(config!.apis[0]!.maxBodyBytes, 1_048_576);
  t.equal(config!.apis[0]!.production.targets[0]!.tls.hostnameVerifier, 'DefaultAndLocalhost');
  t.equal(config!.apis[0]!.production.targets[0]!.timeouts.socketMs, 90_000);
});

t.test('a wrong enum or duration from a variable is quoted as written', async (t) => {
  const { text } = await loadFixture(
    t,
    { 'gateway.yaml': 'version: 1\nreload: { interval: "${INTERVAL}", preflight: "${PREFLIGHT}" }\napis: []\n', certs: {} },
    { env: { INTERVAL: '5 minutes hunter2', PREFLIGHT: 'hunter2' } },
  );
  t.equal(
    text,
    `gateway.yaml:2:21  reload.interval: must be a duration like "500ms", "10s", "1m30s", "1h" or "30d", or an integer number of milliseconds (got "\${INTERVAL}")  [CONFIG_INVALID_VALUE]
gateway.yaml:2:47  reload.preflight: must be one of off, warn, enforce (got "\${PREFLIGHT}")  [CONFIG_INVALID_VALUE]
`,
  );
});

t.test('TOML: a quoted whole reference is a boolean too', async (t) => {
  const toml = `version = 1

[[apis]]
name = "Orders"
context = "/orders"
version = "v1"
default = "\${ORDERS_DEFAULT:-true}"

[apis.endpoints.production]
url = "https://orders.internal"
headers = { forwarded = "\${FORWARDED}" }
`;
  const good = await loadFixture(t, { 'gateway.toml': toml, certs: {} }, { config: 'gateway.toml', env: { FORWARDED: 'false' } });
  t.equal(good.text, '');
  t.equal(good.config!.apis[0]!.isDefault, true);
  t.equal(good.config!.apis[0]!.production.targets[0]!.headers.forwarded, false);
  const bad = await loadFixture(t, { 'gateway.toml': toml, certs: {} }, { config: 'gateway.toml', env: { FORWARDED: 'off', ORDERS_DEFAULT: 'hunter2' } });
  t.equal(
    bad.text,
    `gateway.toml:7:11  apis[0].default: ORDERS_DEFAULT must be true or false here (its value is not shown: it comes from the environment)  [CONFIG_TYPE]
gateway.toml:11:25  apis[0].endpoints.production.headers.forwarded: FORWARDED="off": must be true or false (yes/no, on/off and 1/0 are not booleans in YAML 1.2 or TOML)  [CONFIG_TYPE]
`,
  );
});

t.test('interpolate lists whole references only, with where their text came from', async (t) => {
  const result = interpolate(
    { a: '${SET}', b: '${UNSET:-x}', c: '${EMPTY}', d: 'x${SET}', e: '${SET}${SET}', f: '$${SET}', g: '${MISSING}', h: ['${SET}'] },
    { SET: 'v', EMPTY: '' },
  );
  t.same(Object.fromEntries(result.references), {
    '/a': { name: 'SET', from: 'environment' },
    '/b': { name: 'UNSET', from: 'default' },
    '/c': { name: 'EMPTY', from: 'environment' },
    '/h/0': { name: 'SET', from: 'environment' },
  });
  t.same([...result.expanded].sort(), ['/a', '/b', '/c', '/d', '/e', '/g', '/h/0']);
});

t.test('numbers: read where only a number is accepted, refused unquoted otherwise', async (t) => {
  // The language has no number-only key today (ports and sizes accept text): a schema that does.
  const root: SchemaNode = {
    type: 'object',
    properties: { workers: { type: 'integer' }, ratio: { $ref: '#/definitions/ratio' }, list: { type: 'array', items: { type: 'number' } }, port: { type: ['string', 'integer'] } },
    definitions: { ratio: { anyOf: [{ type: 'number' }, { type: 'null' }] } },
  };
  const data: Record<string, unknown> = { workers: '4', ratio: '-1.5e2', list: ['7', 'x'], port: '8280' };
  const references = new Map(['/workers', '/ratio', '/list/0', '/list/1', '/port'].map((p) => [p, { name: p.slice(1).toUpperCase().replace('/', '_'), from: 'environment' as const }]));
  const problems = coerceReferences(data, references, new Set(), root);
  t.same(data, { workers: 4, ratio: -150, list: [7, 'x'], port: '8280' });
  t.same(problems, [{ pointer: '/list/1', message: 'LIST_1 must be a number here (its value is not shown: it comes from the environment)' }]);
});

t.test("Gatehouse's schema is the file without its variable alternatives", async (t) => {
  const text = JSON.stringify(schema);
  t.notMatch(text, /containsVariable|definitions\/variable/, 'no reference to a variable is left');
  t.notMatch(text, /"anyOf"/, 'every anyOf was a variable alternative');
  t.match(JSON.stringify(editorSchema), /definitions\/containsVariable/, "the editors' schema keeps them");
  t.same(schemaAt('/apis/0/default'), { ...schema.definitions!.boolean, description: schemaAt('/apis/0/default')!.description, default: false, examples: [true] });
  t.equal(schemaAt('/apis/0/default')!.type, 'boolean');
  t.same(schemaAt('/defaults/tls/hostnameVerifier')!.enum, ['Strict', 'DefaultAndLocalhost', 'AllowAll']);
  t.equal(schemaAt('/apis/0/endpoints/production/timeouts/socket')!.pattern, schema.definitions!.duration!.pattern);
  t.equal(schemaAt('/nope/deeper'), undefined);
  t.same(withoutVariables({ anyOf: [{ type: 'string' }, { type: 'integer' }] }), { anyOf: [{ type: 'string' }, { type: 'integer' }] }, 'other unions are kept');

  // Both readings compile under ajv's strict mode: a typo in the editors' half fails here. The
  // file's variable definitions apply a pattern to what `not` leaves (strings) rather than say
  // type: string, which the YAML language server would merge into "Expected boolean | string":
  // strictTypes alone is off for it.
  for (const [name, node, strictTypes] of [['the file', JSON.parse(readFileSync(SCHEMA_URL, 'utf8')), false], ["Gatehouse's", schema, true]] as const) {
    const ajv = new Ajv({ allErrors: true, strict: true, strictTypes, allowUnionTypes: true });
    ajvFormats.default(ajv, ['hostname']);
    ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
    t.doesNotThrow(() => ajv.compile(node), name);
  }
});

t.test("the editors' schema accepts a reference wherever Gatehouse's expects a boolean, an enum, a duration", async (t) => {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, allowUnionTypes: true });
  ajvFormats.default(ajv, ['hostname']);
  ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
  const validate = ajv.compile(editorSchema);
  const doc = (extra: Record<string, unknown>) => ({
    version: 1,
    reload: { interval: '${INTERVAL:-10s}', preflight: '${PREFLIGHT}' },
    apis: [{ name: '${NAME}', context: '/${TEAM}', version: 'v${N}', default: '${D:-true}', endpoints: { production: { url: 'https://x', certificate: '${ALIAS}', tls: { hostnameVerifier: '${V}' } } }, ...extra }],
  });
  t.ok(validate(doc({})), JSON.stringify(validate.errors));
  t.notOk(validate(doc({ default: 'x${D}' })), 'a boolean is one whole reference, nothing around it');
  t.notOk(validate(doc({ default: 5 })), 'a number is no boolean');
  t.notOk(validate(doc({ default: '${bad name}' })), 'nor a malformed reference');
});

t.test("every value with a type other than text, a list of words or a form accepts a variable in the editors' schema", async (t) => {
  // A key added later with "type": "boolean" (not "$ref": "#/definitions/boolean"), an enum or a
  // pattern outside an anyOf with a variable would be flagged by editors when written ${VAR}.
  const isVariable = (node: unknown) => typeof node === 'object' && node !== null && VARIABLE_DEFINITIONS.some((name) => (node as SchemaNode).$ref === `#/definitions/${name}`);
  let uncovered: string[] = [];
  let checked = 0;
  const walk = (node: unknown, where: string, covered: boolean): void => {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return;
    const n = node as SchemaNode & { format?: string; anyOf?: unknown[]; not?: unknown };
    const types = ([] as string[]).concat(n.type ?? []);
    if (n.enum || n.pattern || n.format || types.some((type) => ['boolean', 'number', 'integer'].includes(type))) {
      checked++;
      if (!covered) uncovered.push(where);
    }
    for (const [name, child] of Object.entries(n.properties ?? {})) walk(child, `${where}/properties/${name}`, false);
    for (const [name, child] of Object.entries(n.definitions ?? {})) if (!VARIABLE_DEFINITIONS.includes(name)) walk(child, `${where}/definitions/${name}`, false);
    if (n.items) walk(n.items, `${where}/items`, false);
    if (n.anyOf) n.anyOf.forEach((alternative, i) => walk(alternative, `${where}/anyOf/${i}`, n.anyOf!.some(isVariable)));
  };
  walk({ properties: { on: { type: 'boolean' }, mode: { anyOf: [{ enum: ['a'] }, { $ref: '#/definitions/variable' }] }, list: { items: { pattern: '^x' } } } }, '#', false);
  t.same(uncovered, ['#/properties/on', '#/properties/list/items'], 'the check itself: a bare boolean and pattern are found');
  uncovered = [];
  checked = 0;
  walk(editorSchema, '#', false);
  t.ok(checked >= 15, `${checked} typed values checked`);
  t.same(uncovered, [], 'each is an anyOf with definitions/variable or definitions/containsVariable');
});
