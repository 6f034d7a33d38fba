// resources: { openapi: file } (SPEC §12, docs/configuration.md): an API's paths and methods from
// an OpenAPI 3.0/3.1 or Swagger 2.0 definition. parseOpenApi on its own: the resources and the
// `ignored` list of each specification, in YAML and JSON; every kind of error at its line (syntax,
// not a definition, schema problems, through a $ref, a $ref out of the file, a path the allow-list
// cannot match), and nothing fetched or read for a $ref out of the file. Then through loadConfig:
// the file relative to the configuration's folder, a file that cannot be read, the revision, one
// read for two APIs, the reuse of compiled APIs, and the configuration schema's resources.openapi.
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { DocumentCache, loadConfig } from '../../src/config/load.js';
import { parseOpenApi } from '../../src/config/openapi.js';
import type { Diagnostic } from '../../src/diagnostics.js';
import { loadFixture } from '../helpers/workspace.js';

const FILE = '/defs/pizza.yaml';
const OK = '{ responses: { "200": { description: ok } } }';

/** The 1-based line of the first line of `text` that contains `needle` (each test's expected line, read from its own text). */
function lineOf(text: string, needle: string): number {
  const k = text.split('\n').findIndex((l) => l.includes(needle));
  if (k === -1) throw new Error(`no line contains ${JSON.stringify(needle)}`);
  return k + 1;
}

/** The diagnostics reduced to what a user reads: severity, code, file, line:column, message. */
const brief = (diagnostics: readonly Diagnostic[]) => diagnostics.map((d) => ({ severity: d.severity, code: d.code, file: d.file, line: d.line, column: d.column, message: d.message }));

async function errorsOf(t: Test, text: string): Promise<Diagnostic[]> {
  const parsed = await parseOpenApi(text, FILE);
  t.equal(parsed.definition, undefined, 'no definition when there is an error');
  t.ok(parsed.diagnostics.length > 0, 'an error');
  for (const d of parsed.diagnostics) {
    t.equal(d.severity, 'error');
    t.equal(d.code, 'OPENAPI_FILE');
    t.equal(d.file, FILE, 'the diagnostic names the definition');
  }
  return [...parsed.diagnostics];
}

// ------------------------------------------------------------------ conversion

t.test('OpenAPI 3.0 (YAML): every operation, {parameters}, a parameter inside a segment, a trailing /, trace and servers listed as not routed', async (t) => {
  const text = `openapi: 3.0.3
info: { title: Pizza, version: "1" }
servers:
  - url: https://api.example.com/v1
  - url: /relative
paths:
  /menu:
    summary: the menu
    parameters: []
    x-internal: true
    get: ${OK}
    trace: ${OK}
  /order/{orderId}:
    get: ${OK}
    put: ${OK}
    delete: ${OK}
  /files/{name}.json:
    head: ${OK}
  /slash/:
    post: ${OK}
  /:
    get: ${OK}
  /order/{order-id}/lines/{line}:
    get: ${OK}
  /all:
    options: ${OK}
    delete: ${OK}
    patch: ${OK}
    put: ${OK}
    post: ${OK}
    head: ${OK}
    get: ${OK}
  /only-trace:
    trace: ${OK}
`;
  const parsed = await parseOpenApi(text, FILE);
  t.same(parsed.diagnostics, []);
  t.strictSame(parsed.definition, {
    specification: 'OpenAPI 3.0.3',
    resources: [
      { path: '/menu', methods: ['GET'] },
      { path: '/order/{orderId}', methods: ['GET', 'PUT', 'DELETE'] },
      { path: '/files/{p2}', methods: ['HEAD'] },
      { path: '/slash/', methods: ['POST'] },
      { path: '/', methods: ['GET'] },
      { path: '/order/{p2}/lines/{line}', methods: ['GET'] },
      { path: '/all', methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] },
    ],
    ignored: [
      'servers https://api.example.com/v1, /relative',
      'TRACE /menu (the gateway forwards no TRACE)',
      '/files/{name}.json is matched as /files/{p2} (a parameter inside a segment matches the whole segment)',
      'TRACE /only-trace (the gateway forwards no TRACE)',
    ],
  });
});

t.test('OpenAPI 3.1 (JSON): a path item by $ref (through a chain of them), webhooks not routed, no servers nothing ignored', async (t) => {
  const text = JSON.stringify(
    {
      openapi: '3.1.0',
      info: { title: 'Pizza', version: '1' },
      paths: {
        '/menu': { $ref: '#/components/pathItems/Menu' },
        '/chain': { $ref: '#/components/pathItems/Hop' },
        '/order/{orderId}': { get: { responses: { '200': { description: 'ok' } } }, put: { responses: { '200': { description: 'ok' } } } },
      },
      webhooks: { newPizza: { post: { responses: { '200': { description: 'ok' } } } } },
      components: {
        pathItems: {
          Menu: { get: { responses: { '200': { description: 'ok' } } }, patch: { responses: { '200': { description: 'ok' } } } },
          Hop: { $ref: '#/components/pathItems/Last' },
          Last: { delete: { responses: { '200': { description: 'ok' } } } },
        },
      },
    },
    null,
    2,
  );
  const parsed = await parseOpenApi(text, '/defs/pizza.json');
  t.same(parsed.diagnostics, []);
  t.strictSame(parsed.definition, {
    specification: 'OpenAPI 3.1.0',
    resources: [
      { path: '/menu', methods: ['GET', 'PATCH'] },
      { path: '/chain', methods: ['DELETE'] },
      { path: '/order/{orderId}', methods: ['GET', 'PUT'] },
    ],
    ignored: [],
  });
});

t.test('OpenAPI 3.0 (JSON) and a path item $ref in 3.0: the same resources as the YAML', async (t) => {
  const text = `{
  "openapi": "3.0.1",
  "info": { "title": "P", "version": "1" },
  "servers": [{ "url": "https://one.example.com" }, { "url": "https://two.example.com/{stage}", "variables": { "stage": { "default": "prod" } } }],
  "paths": {
    "/menu": { "get": { "responses": { "200": { "description": "ok" } } } },
    "/carte": { "$ref": "#/paths/~1menu" }
  }
}`;
  const parsed = await parseOpenApi(text, '/defs/pizza.json');
  t.same(parsed.diagnostics, []);
  t.strictSame(parsed.definition, {
    specification: 'OpenAPI 3.0.1',
    resources: [
      { path: '/menu', methods: ['GET'] },
      { path: '/carte', methods: ['GET'] },
    ],
    ignored: ['servers https://one.example.com, https://two.example.com/{stage}'],
  });
});

t.test('Swagger 2.0 (YAML and JSON): host and basePath listed as not routed, never part of a path; a trailing /* kept (WSO2 exports list /*)', async (t) => {
  const yaml = `swagger: "2.0"
info: { title: Legacy, version: "1" }
host: legacy.example.com
basePath: /basepath
schemes: [https]
paths:
  /menu:
    get: ${OK}
    post: ${OK}
  /order/{orderId}:
    $ref: '#/x-items/Order'
  /*:
    options: ${OK}
  /files/*:
    put: ${OK}
x-items:
  Order:
    delete: ${OK}
`;
  const expected = {
    specification: 'Swagger 2.0',
    resources: [
      { path: '/menu', methods: ['GET', 'POST'] },
      { path: '/order/{orderId}', methods: ['DELETE'] },
      { path: '/*', methods: ['OPTIONS'] },
      { path: '/files/*', methods: ['PUT'] },
    ],
    ignored: ['host legacy.example.com', 'basePath /basepath'],
  };
  const fromYaml = await parseOpenApi(yaml, '/defs/swagger.yaml');
  t.same(fromYaml.diagnostics, []);
  t.strictSame(fromYaml.definition, expected);

  const json = JSON.stringify({
    swagger: '2.0',
    info: { title: 'Legacy', version: '1' },
    host: 'legacy.example.com',
    basePath: '/basepath',
    paths: {
      '/menu': { get: { responses: { '200': { description: 'ok' } } }, post: { responses: { '200': { description: 'ok' } } } },
      '/order/{orderId}': { $ref: '#/x-items/Order' },
      '/*': { options: { responses: { '200': { description: 'ok' } } } },
      '/files/*': { put: { responses: { '200': { description: 'ok' } } } },
    },
    'x-items': { Order: { delete: { responses: { '200': { description: 'ok' } } } } },
  });
  const fromJson = await parseOpenApi(json, '/defs/swagger.json');
  t.same(fromJson.diagnostics, []);
  t.strictSame(fromJson.definition, expected, 'the JSON gives the same as the YAML');
  t.notOk(
    fromJson.definition!.resources.some((r) => r.path.startsWith('/basepath')),
    'basePath is not prefixed to any path',
  );
});

t.test('no operation at all: a definition with no resources, and a warning at paths', async (t) => {
  const text = `openapi: 3.0.3
info: { title: Pizza, version: "1" }
paths:
  /only-trace:
    trace: ${OK}
`;
  const parsed = await parseOpenApi(text, FILE);
  t.strictSame(parsed.definition, { specification: 'OpenAPI 3.0.3', resources: [], ignored: ['TRACE /only-trace (the gateway forwards no TRACE)'] });
  t.same(brief(parsed.diagnostics), [
    { severity: 'warning', code: 'OPENAPI_FILE', file: FILE, line: 3, column: 1, message: 'lists no operation: every request to the API is refused with 404 until it does' },
  ]);
  const empty = await parseOpenApi('openapi: 3.0.3\ninfo: { title: P, version: "1" }\npaths: {}\n', FILE);
  t.strictSame(empty.definition?.resources, []);
  t.match(empty.diagnostics, [{ severity: 'warning', line: 3, message: /lists no operation/ }]);
});

// ------------------------------------------------------------------ errors

t.test('a YAML or JSON syntax error: at its line and column', async (t) => {
  const yaml = `openapi: 3.0.3
info: { title: Pizza, version: "1"
paths: {}
`;
  t.same(brief(await errorsOf(t, yaml)), [
    {
      severity: 'error',
      code: 'OPENAPI_FILE',
      file: FILE,
      line: 3,
      column: 1,
      message: 'the { } map opened on line 2 (column 7) is not closed: end it with }, and indent the lines inside it further than "info"',
    },
  ]);
  const json = `{
  "openapi": "3.0.3",
  "info": { "title": "P", "version": "1" },,
  "paths": {}
}`;
  const [error] = await errorsOf(t, json);
  t.match(error, { line: 3, column: 44, message: /unexpected ,/ });
});

t.test('not an OpenAPI 3.0/3.1 or Swagger 2.0 definition: openapi 2.5, 3.2, an unquoted 3.1, swagger 2.0 unquoted, no version key, a list, an empty file', async (t) => {
  const info = 'info: { title: P, version: "1" }\npaths: {}\n';
  for (const [what, text] of [
    ['openapi: 2.5', `openapi: 2.5\n${info}`],
    ['openapi: "2.5"', `openapi: "2.5"\n${info}`],
    ['openapi: 3.2.0', `openapi: 3.2.0\n${info}`],
    ['openapi: 3.1 (a number)', `openapi: 3.1\n${info}`],
    ['swagger: 2.0 (a number)', `swagger: 2.0\n${info}`],
    ['no version key', info],
    ['a list', '- openapi: 3.0.3\n'],
    ['an empty file', ''],
  ] as const) {
    const errors = await errorsOf(t, text);
    t.equal(errors.length, 1, what);
    t.equal(
      errors[0]!.message,
      'is not an OpenAPI 3.0/3.1 or Swagger 2.0 definition: expected an "openapi: 3.x.y" or "swagger: \'2.0\'" key at the top (resources.openapi names the file relative to the configuration file\'s folder)',
      what,
    );
  }
});

t.test('a missing required property: info.title, servers[0].url, a response without description (Swagger): at the object that lacks it', async (t) => {
  const noTitle = `openapi: 3.0.3
info:
  version: "1"
paths:
  /menu:
    get: ${OK}
`;
  t.same(brief(await errorsOf(t, noTitle)), [
    { severity: 'error', code: 'OPENAPI_FILE', file: FILE, line: 2, column: 1, message: "is not a valid OpenAPI 3.0.3 definition: must have required property 'title' (at info)" },
  ]);

  const noUrl = `openapi: 3.0.3
info: { title: Pizza, version: "1" }
servers:
  - description: production
paths:
  /menu:
    get: ${OK}
`;
  t.same(brief(await errorsOf(t, noUrl)), [
    { severity: 'error', code: 'OPENAPI_FILE', file: FILE, line: 4, column: 5, message: "is not a valid OpenAPI 3.0.3 definition: must have required property 'url' (at servers[0])" },
  ]);

  const swagger = `swagger: "2.0"
info: { title: Legacy, version: "1" }
paths:
  /menu:
    get:
      responses:
        "200": {}
`;
  const [error] = await errorsOf(t, swagger);
  t.match(error, { line: lineOf(swagger, '"200": {}'), column: 9, message: /^is not a valid Swagger 2\.0 definition: must have required property 'description' \(at paths\["\/menu"\]\.get\.responses\["200"\]\)$/ });
});

t.test('an unknown operation key (pust): at that key, in 3.0 YAML, 3.0 JSON and 3.1; several problems, one error each', async (t) => {
  const v30 = `openapi: 3.0.3
info: { title: Pizza, version: "1" }
paths:
  /menu:
    get: ${OK}
    pust: ${OK}
`;
  t.same(brief(await errorsOf(t, v30)), [
    {
      severity: 'error',
      code: 'OPENAPI_FILE',
      file: FILE,
      line: 6,
      column: 5,
      message: 'is not a valid OpenAPI 3.0.3 definition: must NOT have additional properties: pust is not expected to be here (at paths["/menu"].pust)',
    },
  ]);

  const json = `{
  "openapi": "3.0.3",
  "info": { "title": "P", "version": "1" },
  "paths": {
    "/menu": { "pust": { "responses": { "200": { "description": "ok" } } } }
  }
}`;
  const [inJson] = await errorsOf(t, json);
  t.match(inJson, { line: 5, column: 16, message: /pust is not expected to be here \(at paths\["\/menu"\]\.pust\)/ });

  const v31 = `openapi: 3.1.0
info: { version: "1" }
paths:
  /menu:
    pust: ${OK}
`;
  const errors = await errorsOf(t, v31);
  t.same(
    errors.map((d) => [d.line, d.column]),
    [
      [2, 1],
      [5, 5],
    ],
    'one error per problem, each at its line',
  );
  t.match(errors[0]!.message, /^is not a valid OpenAPI 3\.1\.0 definition: must have required property 'title' \(at info\)/);
  t.match(errors[1]!.message, /pust is not expected to be here \(at paths\["\/menu"\]\.pust\)/);
});

t.test('a problem inside a component reached by $ref: at the place that uses it, and at the component', async (t) => {
  const response = `openapi: 3.0.3
info: { title: Pizza, version: "1" }
paths:
  /menu:
    get:
      responses:
        "200":
          $ref: '#/components/responses/Ok'
components:
  responses:
    Ok:
      content: {}
`;
  const errors = await errorsOf(t, response);
  t.same(
    errors.map((d) => [d.line, d.column]),
    [
      [7, 9],
      [11, 5],
    ],
  );
  const lines = response.split('\n');
  t.match(lines[errors[0]!.line! - 1], /^ {8}"200":$/, 'the first is a real line: the response that holds the $ref');
  t.match(lines[errors[1]!.line! - 1], /^ {4}Ok:$/, 'the second is the component itself');
  t.match(errors[0]!.message, /must have required property 'description' \(at paths\["\/menu"\]\.get\.responses\["200"\]\)$/);
  t.match(errors[1]!.message, /must have required property 'description' \(at components\.responses\.Ok\)$/);

  const schema = `openapi: 3.0.3
info: { title: Pizza, version: "1" }
paths:
  /menu:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Pizza'
components:
  schemas:
    Pizza:
      type: object
      required: 5
`;
  const [atRef, atComponent] = await errorsOf(t, schema);
  t.match(atRef, { line: lineOf(schema, "$ref: '#/components/schemas/Pizza'"), column: 17, message: /must be array.*\(at paths\["\/menu"\]\.get\.responses\["200"\]\.content\["application\/json"\]\.schema\.\$ref\)$/ });
  t.match(atComponent, { line: lineOf(schema, 'required: 5'), column: 7, message: /must be array.*\(at components\.schemas\.Pizza\.required\)$/ });
});

t.test('a $ref to nothing in the file: refused, naming the $ref', async (t) => {
  const text = `openapi: 3.0.3
info: { title: Pizza, version: "1" }
paths:
  /menu:
    get:
      responses:
        "200":
          $ref: '#/components/responses/Nope'
`;
  const [error] = await errorsOf(t, text);
  t.match(error!.message, /^is not a valid OpenAPI 3\.0\.3 definition: .*"#\/components\/responses\/Nope"/);
});

t.test('a $ref to another file or a URL: refused at its line, and nothing is fetched', async (t) => {
  let connections = 0;
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/yaml' });
    res.end('Ok:\n  description: ok\n');
  });
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/shared.yaml#/Ok`;

  const text = `openapi: 3.0.3
info: { title: Pizza, version: "1" }
paths:
  /menu:
    get:
      responses:
        "200":
          $ref: './other.yaml#/Ok'
  /order:
    $ref: 'https://example.com/paths.yaml#/order'
  /drinks:
    get:
      responses:
        "200":
          $ref: '${url}'
`;
  const errors = await errorsOf(t, text);
  t.equal(connections, 0, 'the URL in the $ref was never connected to');
  t.same(requests, []);
  t.same(
    errors.map((d) => [d.line, d.column]),
    [
      [8, 17],
      [10, 11],
      [15, 17],
    ],
    'each at its $ref value',
  );
  t.equal(
    errors[0]!.message,
    '$ref "./other.yaml#/Ok" points outside the definition: Gatehouse reads the definition as one file and resolves no other file or URL; bundle it into one (for example `npx @redocly/cli bundle ./other.yaml`)',
  );
  t.match(errors[1]!.message, /^\$ref "https:\/\/example\.com\/paths\.yaml#\/order" points outside the definition/);
  t.match(errors[2]!.message, `$ref "${url}" points outside the definition`);

  // A $ref without # at all is a file too.
  const bare = `openapi: 3.0.3
info: { title: Pizza, version: "1" }
paths:
  /menu:
    $ref: menu.yaml
`;
  const [error] = await errorsOf(t, bare);
  t.match(error, { line: 5, column: 11, message: /^\$ref "menu\.yaml" points outside the definition.*bundle menu\.yaml/ });
});

t.test('a $ref to a readable file beside the definition: still refused, through loadConfig', async (t) => {
  const definition = `openapi: 3.0.3
info: { title: Pizza, version: "1" }
paths:
  /menu:
    get:
      responses:
        "200":
          $ref: './other.yaml#/Ok'
`;
  const loaded = await loadFixture(t, {
    'gateway.yaml': config('{ openapi: ./pizza.yaml }'),
    'pizza.yaml': definition,
    // What the $ref names is there and would make the definition valid.
    'other.yaml': 'Ok:\n  description: ok\n',
    certs: {},
  });
  t.equal(loaded.config, undefined, 'the load fails');
  t.same(brief(loaded.diagnostics), [
    {
      severity: 'error',
      code: 'OPENAPI_FILE',
      file: path.join(loaded.dir, 'pizza.yaml'),
      line: 8,
      column: 17,
      message:
        '$ref "./other.yaml#/Ok" points outside the definition: Gatehouse reads the definition as one file and resolves no other file or URL; bundle it into one (for example `npx @redocly/cli bundle ./other.yaml`)',
    },
  ]);
  t.match(loaded.text, /^pizza\.yaml:8:17 {2}\$ref "\.\/other\.yaml#\/Ok" points outside the definition/m, 'as validate prints it');
});

t.test('a path that is not whole segments: each at its key, naming the path and the problem', async (t) => {
  const text = `openapi: 3.0.3
info: { title: Pizza, version: "1" }
paths:
  /ok:
    get: ${OK}
  /a b/c:
    get: ${OK}
  /a/../c:
    get: ${OK}
  /a//c:
    get: ${OK}
  /a/*/b:
    get: ${OK}
`;
  const errors = await errorsOf(t, text);
  t.same(
    brief(errors).map((d) => [d.line, d.column, d.message]),
    [
      [6, 3, 'path "/a b/c" segment "a b" is neither a literal (letters, digits, -._~ and %XX) nor a {parameter} nor *: Gatehouse matches whole segments (literals, {parameter} or a trailing /*)'],
      [8, 3, 'path "/a/../c" has a ".." segment: Gatehouse matches whole segments (literals, {parameter} or a trailing /*)'],
      [10, 3, 'path "/a//c" has an empty segment (// or a trailing /): Gatehouse matches whole segments (literals, {parameter} or a trailing /*)'],
      [12, 3, 'path "/a/*/b" * is allowed only as the last segment (/files/*): Gatehouse matches whole segments (literals, {parameter} or a trailing /*)'],
    ],
  );
});

const NO_SLASH = `openapi: 3.0.3
info: { title: Pizza, version: "1" }
paths:
  /fine:
    get: ${OK}
  menu:
    get: ${OK}
`;

t.test('a path without a leading /: refused, in each specification', async (t) => {
  for (const head of ['openapi: 3.0.3', 'openapi: 3.1.0', 'swagger: "2.0"']) {
    const errors = await errorsOf(t, NO_SLASH.replace('openapi: 3.0.3', head));
    t.equal(errors.length, 1, head);
    t.match(errors[0]!.message, /leading slash|does not start with \//, head);
  }
});

// SPEC §12 and the brief of ea1412a: "a path that cannot be matched by whole segments (e.g. not
// starting with /) → error at the path key". The parser's own check (hasInvalidPaths) answers
// first, with neither a line nor the path's name, so routingTemplate's 'does not start with /'
// is never reached. See the report of this test file's commit.
t.test('a path without a leading /: at its key, naming it', async (t) => {
  const [error] = await errorsOf(t, NO_SLASH);
  t.equal(error!.line, lineOf(NO_SLASH, '  menu:'), 'at the key menu');
  t.equal(error!.column, 3);
  t.match(error!.message, /"menu".*does not start with \//, 'naming the path');
});

// OpenAPI 3.0/3.1 ("This object MAY be extended with Specification Extensions") and Swagger 2.0
// (paths: patternProperties ^x-) allow x- keys in paths; they are not paths.
t.test('an x- extension in paths is not a path', async (t) => {
  const text = `openapi: 3.0.3
info: { title: Pizza, version: "1" }
paths:
  x-owner: team-pizza
  /menu:
    get: ${OK}
`;
  for (const head of ['openapi: 3.0.3', 'openapi: 3.1.0', 'swagger: "2.0"']) {
    const parsed = await parseOpenApi(text.replace('openapi: 3.0.3', head), FILE);
    t.same(parsed.diagnostics, [], head);
    t.strictSame(parsed.definition?.resources, [{ path: '/menu', methods: ['GET'] }], head);
  }
});

// ------------------------------------------------------------------ through loadConfig

function config(resources: string, second = ''): string {
  return `version: 1
apis:
  - name: Pizza
    context: /pizza
    version: v1
    resources: ${resources}
    endpoints:
      production: { url: "http://127.0.0.1:1" }
${second}`;
}

const PIZZA = `openapi: 3.0.3
info: { title: Pizza, version: "1" }
servers:
  - url: https://pizza.example.com
paths:
  /menu:
    get: ${OK}
  /order/{orderId}:
    get: ${OK}
    delete: ${OK}
`;

t.test('loadConfig: the definition relative to the configuration file, its resources and where they came from', async (t) => {
  const loaded = await loadFixture(t, { conf: { 'gateway.yaml': config('{ openapi: ./defs/pizza.yaml }'), defs: { 'pizza.yaml': PIZZA }, certs: {} } }, { config: 'conf/gateway.yaml' });
  t.same(loaded.diagnostics, []);
  const api = loaded.config!.apis[0]!;
  t.strictSame(api.resources, [
    { path: '/menu', methods: ['GET'] },
    { path: '/order/{orderId}', methods: ['GET', 'DELETE'] },
  ]);
  t.match(api.resourcesFrom, { file: path.join(loaded.dir, 'conf', 'defs', 'pizza.yaml'), specification: 'OpenAPI 3.0.3', ignored: ['servers https://pizza.example.com'] });
  t.match(api.resourcesFrom!.sha256, /^[0-9a-f]{64}$/);
  t.equal(api.resources, api.resourcesFrom!.resources, "the API's resources are the definition's");
});

t.test('loadConfig: a definition that cannot be read is OPENAPI_FILE naming it, and the load fails', async (t) => {
  const missing = await loadFixture(t, { 'gateway.yaml': config('{ openapi: ./nowhere/pizza.yaml }'), certs: {} });
  t.equal(missing.config, undefined, 'never an API with no resources, nor one that allows everything');
  t.same(brief(missing.diagnostics), [
    {
      severity: 'error',
      code: 'OPENAPI_FILE',
      file: path.join(missing.dir, 'nowhere', 'pizza.yaml'),
      line: undefined,
      column: undefined,
      message: "cannot read the OpenAPI definition: it does not exist (resources.openapi is relative to the configuration file's folder)",
    },
  ]);
  t.match(missing.text, /nowhere\/pizza\.yaml {2}cannot read the OpenAPI definition: it does not exist/);

  const folder = await loadFixture(t, { 'gateway.yaml': config('{ openapi: ./defs }'), defs: { 'pizza.yaml': PIZZA }, certs: {} });
  t.equal(folder.config, undefined);
  t.match(folder.diagnostics, [{ code: 'OPENAPI_FILE', file: path.join(folder.dir, 'defs'), message: /cannot read the OpenAPI definition: it is a folder, not a file/ }]);
});

t.test('loadConfig: a definition with an error stops the load, at its file and line; a warning does not', async (t) => {
  const broken = PIZZA.replace('    delete:', '    pust:');
  const loaded = await loadFixture(t, { 'gateway.yaml': config('{ openapi: pizza.yaml }'), 'pizza.yaml': broken, certs: {} });
  t.equal(loaded.config, undefined);
  t.match(loaded.diagnostics, [{ severity: 'error', code: 'OPENAPI_FILE', file: path.join(loaded.dir, 'pizza.yaml'), line: lineOf(broken, 'pust:'), column: 5, message: /pust is not expected to be here/ }]);
  t.equal(loaded.diagnostics.length, 1);
  t.match(loaded.text, new RegExp(`^pizza\\.yaml:${lineOf(broken, 'pust:')}:5 `, 'm'));

  const empty = await loadFixture(t, { 'gateway.yaml': config('{ openapi: pizza.yaml }'), 'pizza.yaml': 'openapi: 3.0.3\ninfo: { title: P, version: "1" }\npaths: {}\n', certs: {} });
  t.ok(empty.config, 'a definition with no operation loads');
  t.strictSame(empty.config!.apis[0]!.resources, [], 'and allows nothing');
  t.match(empty.diagnostics, [{ severity: 'warning', code: 'OPENAPI_FILE', file: path.join(empty.dir, 'pizza.yaml'), line: 3, message: /lists no operation/ }]);
});

t.test('loadConfig: resources.openapi may be a ${VARIABLE}', async (t) => {
  const loaded = await loadFixture(t, { 'gateway.yaml': config('{ openapi: "${PIZZA_DEFINITION}" }'), 'pizza.yaml': PIZZA, certs: {} }, { env: { PIZZA_DEFINITION: './pizza.yaml' } });
  t.same(loaded.diagnostics, []);
  t.equal(loaded.config!.apis[0]!.resourcesFrom?.file, path.join(loaded.dir, 'pizza.yaml'));
});

t.test("the revision: changes when only the definition's bytes change, stays when they do not", async (t) => {
  const dir = t.testdir({ 'gateway.yaml': config('{ openapi: ./pizza.yaml }'), 'pizza.yaml': PIZZA, certs: {} });
  const file = path.join(dir, 'gateway.yaml');
  const definition = path.join(dir, 'pizza.yaml');
  const load = async () => {
    const result = await loadConfig(file, { env: {} });
    t.same(result.diagnostics, []);
    return result.config!;
  };
  const first = await load();
  t.match(first.revision, /^[0-9a-f]{64}$/);
  t.equal((await load()).revision, first.revision, 'loaded again: the same revision');
  writeFileSync(definition, PIZZA);
  t.equal((await load()).revision, first.revision, 'the same bytes written again: the same revision');

  writeFileSync(definition, `${PIZZA}# a comment: the same paths, other bytes\n`);
  const commented = await load();
  t.not(commented.revision, first.revision, 'other bytes, even with the same resources: another revision');
  t.strictSame(commented.apis[0]!.resources, first.apis[0]!.resources);

  writeFileSync(definition, PIZZA.replace('    delete:', '    put:'));
  const edited = await load();
  t.not(edited.revision, first.revision);
  t.not(edited.revision, commented.revision);
  t.strictSame(edited.apis[0]!.resources?.[1], { path: '/order/{orderId}', methods: ['GET', 'PUT'] });

  writeFileSync(definition, PIZZA);
  t.equal((await load()).revision, first.revision, 'the first bytes back: the first revision');

});

t.test('two APIs naming the same file (written differently): one read, one definition object', async (t) => {
  const second = `  - name: Pizza
    context: /pizza
    version: v2
    resources: { openapi: pizza.yaml }
    endpoints:
      production: { url: "http://127.0.0.1:1" }
  - name: Other
    context: /other
    version: v1
    resources: { openapi: ./defs/../pizza.yaml }
    endpoints:
      production: { url: "http://127.0.0.1:1" }
`;
  const loaded = await loadFixture(t, { 'gateway.yaml': config('{ openapi: ./pizza.yaml }', second), 'pizza.yaml': PIZZA, defs: {}, certs: {} });
  t.same(loaded.diagnostics, []);
  const [a, b, c] = loaded.config!.apis;
  t.ok(a!.resourcesFrom);
  t.equal(b!.resourcesFrom, a!.resourcesFrom, 'the same object: the file was read and parsed once');
  t.equal(c!.resourcesFrom, a!.resourcesFrom);

  // And its problems are reported once, not once per API.
  const broken = await loadFixture(t, { 'gateway.yaml': config('{ openapi: ./pizza.yaml }', second), 'pizza.yaml': PIZZA.replace('    delete:', '    pust:'), defs: {}, certs: {} });
  t.equal(broken.diagnostics.filter((d) => d.code === 'OPENAPI_FILE').length, 1);
});

t.test('with a cache (as reloads load): unchanged bytes keep the definition and the compiled API, changed bytes compile the API again', async (t) => {
  const dir = t.testdir({ 'gateway.yaml': config('{ openapi: ./pizza.yaml }', '  - { name: Plain, context: /plain, version: v1, endpoints: { production: { url: "http://127.0.0.1:1" } } }\n'), 'pizza.yaml': PIZZA, certs: {} });
  const file = path.join(dir, 'gateway.yaml');
  const cache = new DocumentCache({ racyMs: 0 });
  const load = async () => (await loadConfig(file, { env: {}, cache, freeze: false })).config!;
  const first = await load();
  const again = await load();
  t.equal(again.apis[0]!.resourcesFrom, first.apis[0]!.resourcesFrom, 'the same bytes: not parsed again');
  t.equal(again.apis[0], first.apis[0], 'and the API is reused');

  writeFileSync(path.join(dir, 'pizza.yaml'), PIZZA.replace('  /menu:', '  /drinks:'));
  const edited = await load();
  t.not(edited.apis[0], first.apis[0], 'the definition changed: the API is compiled again');
  t.strictSame(
    edited.apis[0]!.resources!.map((r) => r.path),
    ['/drinks', '/order/{orderId}'],
    'with the new resources',
  );
  t.equal(edited.apis[1], first.apis[1], 'the API without a definition is reused');
  t.not(edited.revision, first.revision);
});

// A bug in src/config/compile.ts: a load whose definition cannot be used compiles the API with
// `resources: []` and no resourcesFrom (compileResources' fallback) and keeps it in compiledApis;
// the next load of the same document reuses it, since sameDefinition() holds for an API without
// resourcesFrom. So a reload after the definition is fixed (or restored) is applied with no
// resources at all: every request 404 NO_ROUTE. The reload worker's cache is such a cache.
t.test('with a cache: the definition broken (or deleted), then fixed: the fixed resources', async (t) => {
  for (const breakIt of ['an unknown key', 'the file deleted'] as const) {
    const dir = t.testdir({ 'gateway.yaml': config('{ openapi: ./pizza.yaml }'), 'pizza.yaml': PIZZA, certs: {} });
    const file = path.join(dir, 'gateway.yaml');
    const definition = path.join(dir, 'pizza.yaml');
    const cache = new DocumentCache({ racyMs: 0 });
    const load = () => loadConfig(file, { env: {}, cache, freeze: false });
    t.ok((await load()).config, breakIt);
    if (breakIt === 'an unknown key') writeFileSync(definition, PIZZA.replace('    delete:', '    pust:'));
    else rmSync(definition);
    const broken = await load();
    t.equal(broken.config, undefined, `${breakIt}: the load fails`);
    t.match(broken.diagnostics, [{ code: 'OPENAPI_FILE', file: definition }]);

    writeFileSync(definition, `${PIZZA}  /drinks:\n    get: ${OK}\n`);
    const fixed = await load();
    t.same(fixed.diagnostics, [], `${breakIt}, then fixed: no diagnostic`);
    const api = fixed.config!.apis[0]!;
    t.strictSame(
      api.resources?.map((r) => r.path),
      ['/menu', '/order/{orderId}', '/drinks'],
      `${breakIt}, then fixed: the resources of the fixed definition`
    );
    t.equal(api.resourcesFrom?.file, definition, `${breakIt}, then fixed: taken from the definition`);
    const fresh = await loadConfig(file, { env: {} });
    t.strictSame(api.resources, fresh.config!.apis[0]!.resources, `${breakIt}, then fixed: as a load from scratch`);
  }
});

// ------------------------------------------------------------------ the configuration schema

t.test('the configuration schema: resources.openapi a string, no other key, required in the object form; the list form unaffected', async (t) => {
  const load = (resources: string) => loadFixture(t, { 'gateway.yaml': config(resources), 'pizza.yaml': PIZZA, certs: {} });

  const notString = await load('{ openapi: 5 }');
  t.equal(notString.config, undefined);
  t.same(
    notString.diagnostics.map((d) => [d.code, d.line, d.column, d.path, d.message]),
    [['CONFIG_TYPE', 6, 27, 'apis[0].resources.openapi', 'must be a string (got 5)']],
  );

  const extra = await load('{ openapi: ./pizza.yaml, extra: 1 }');
  t.equal(extra.config, undefined);
  t.same(
    extra.diagnostics.map((d) => [d.code, d.line, d.path, d.message]),
    [['CONFIG_UNKNOWN_KEY', 6, 'apis[0].resources.extra', 'unknown key "extra" (known: openapi)']],
  );
  t.equal(extra.diagnostics[0]!.column, 'resources: { openapi: ./pizza.yaml, '.length + 5, 'at the key extra');

  const none = await load('{}');
  t.match(none.diagnostics, [{ code: 'CONFIG_MISSING_KEY', line: 6, path: 'apis[0].resources', message: /missing required key "openapi"/ }]);

  const empty = await load('{ openapi: "" }');
  t.match(empty.diagnostics, [{ line: 6, path: 'apis[0].resources.openapi', message: /must not be empty/ }]);

  const list = await load('[]');
  t.same(list.diagnostics, []);
  t.strictSame(list.config!.apis[0]!.resources, [], 'an empty list: nothing allowed');
  t.equal(list.config!.apis[0]!.resourcesFrom, undefined);

  const listed = await load('[{ path: /menu, methods: [GET] }, { path: "/order/{orderId}", methods: [GET, PUT] }]');
  t.same(listed.diagnostics, []);
  t.strictSame(listed.config!.apis[0]!.resources, [
    { path: '/menu', methods: ['GET'] },
    { path: '/order/{orderId}', methods: ['GET', 'PUT'] },
  ]);
  t.equal(listed.config!.apis[0]!.resourcesFrom, undefined);

  const badList = await load('[{ path: menu, methods: [GET] }]');
  t.match(badList.diagnostics, [{ code: 'CONFIG_INVALID_VALUE', line: 6, path: 'apis[0].resources[0].path', message: /must start with \// }], 'the list is still checked path by path');

  const absent = await loadFixture(t, { 'gateway.yaml': config('[]').replace('    resources: []\n', ''), certs: {} });
  t.same(absent.diagnostics, []);
  t.equal(absent.config!.apis[0]!.resources, undefined, 'absent: every path allowed');
});
