// resources: { openapi: file } served (SPEC §12, docs/http.md): a real gateway in front of a real
// backend. The definition's paths and methods are the allow-list: 200 (the backend receives the
// path as sent), 404 NO_ROUTE, 405 METHOD_NOT_ALLOWED with Allow; Swagger's basePath and
// OpenAPI's servers are not part of the routed path. The definition edited on disk: applied by
// reloadNow and by the watcher alone; broken or deleted, rejected naming its file and line while
// the old resources keep serving. And `gatehouse plan` on an API with a definition.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { startBackend } from '../helpers/backend.js';
import type { Echo } from '../helpers/backend.js';
import { runCli } from '../helpers/cli.js';
import { json, request } from '../helpers/client.js';
import { nextReload, startTestGateway } from '../helpers/gateway.js';

interface ErrorBody {
  error: { code: string; message: string; requestId?: string };
}

const OK = '{ responses: { "200": { description: ok } } }';

const PIZZA = `openapi: 3.0.3
info: { title: Pizza, version: "1" }
servers:
  - url: https://pizza.example.com/pizza/v1
paths:
  /menu:
    get: ${OK}
    trace: ${OK}
  /order/{orderId}:
    get: ${OK}
    put: ${OK}
    delete: ${OK}
  /files/{name}.json:
    get: ${OK}
  /basket/:
    post: ${OK}
`;

/** One API, Pizza v1 at /pizza, its resources from pizza.yaml; `interval` the reload interval. */
const gatewayYaml = (url: string, interval = '10m') => `version: 1
reload: { interval: ${interval} }
apis:
  - name: Pizza
    context: /pizza
    version: v1
    resources: { openapi: ./pizza.yaml }
    endpoints: { production: { url: "${url}" } }
`;

const status = async (url: string, method = 'GET') => (await request(url, { method })).status;

async function pizzaGateway(t: Test, interval?: string) {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, gatewayYaml(backend.url, interval), { 'pizza.yaml': PIZZA });
  return { backend, gw, definition: path.join(gw.dir, 'pizza.yaml'), base: `${gw.url}/pizza/v1` };
}

t.test('the definition is the allow-list: 200 for its paths and methods, 404 for another path, 405 with Allow for another method', async (t) => {
  const { backend, base } = await pizzaGateway(t);

  const menu = await request(`${base}/menu?size=large`);
  t.equal(menu.status, 200);
  t.match(json<Echo>(menu), { method: 'GET', url: '/menu?size=large' }, 'the backend received the path as sent, with its query');

  for (const [method, url, sent] of [
    ['GET', '/order/42', '/order/42'],
    ['PUT', '/order/42', '/order/42'],
    ['DELETE', '/order/a%20b', '/order/a%20b'],
    ['GET', '/files/report.json', '/files/report.json'],
    ['GET', '/files/anything', '/files/anything'],
    ['POST', '/basket/', '/basket/'],
  ] as const) {
    const res = await request(`${base}${url}`, { method, ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{}' }) });
    t.equal(res.status, 200, `${method} ${url}`);
    t.match(json<Echo>(res), { method, url: sent }, `${method} ${url}: received as sent`);
  }
  const reached = backend.requests.length;
  t.equal(reached, 7);

  const missing = await request(`${base}/admin`);
  t.equal(missing.status, 404);
  t.same(json<ErrorBody>(missing).error, { code: 'NO_ROUTE', message: 'API "Pizza" version v1 has no resource /admin', requestId: missing.headers['x-request-id'] });
  for (const url of ['/order', '/order/42/lines', '/order/', '/basket', '/menu/extra', '/pizza/v1/menu', '/']) {
    const res = await request(`${base}${url}`);
    t.equal(res.status, 404, `${url} is not in the definition`);
    t.equal(json<ErrorBody>(res).error.code, 'NO_ROUTE', url);
  }

  const wrong = await request(`${base}/order/7`, { method: 'POST', body: '{}' });
  t.equal(wrong.status, 405);
  t.equal(wrong.headers.allow, 'GET, PUT, DELETE');
  t.same(json<ErrorBody>(wrong).error, {
    code: 'METHOD_NOT_ALLOWED',
    message: 'POST is not allowed on /order/7 of API "Pizza" version v1 (allowed: GET, PUT, DELETE)',
    requestId: wrong.headers['x-request-id'],
  });
  const patch = await request(`${base}/menu`, { method: 'PATCH', body: '{}' });
  t.equal(patch.status, 405);
  t.equal(patch.headers.allow, 'GET');
  const trace = await request(`${base}/menu`, { method: 'TRACE' });
  t.equal(trace.status, 405, 'trace in the definition is not routed');
  t.equal(trace.headers.allow, 'GET');
  const basket = await request(`${base}/basket/`);
  t.equal(basket.status, 405);
  t.equal(basket.headers.allow, 'POST');

  t.equal(backend.requests.length, reached, 'refused requests never reach the backend');
});

t.test("Swagger 2.0 with host and basePath: the API's context and version route, basePath is not part of the path", async (t) => {
  const backend = await startBackend(t);
  const swagger = JSON.stringify({
    swagger: '2.0',
    info: { title: 'Legacy', version: '1' },
    host: 'legacy.example.com',
    basePath: '/basepath',
    schemes: ['https'],
    paths: {
      '/menu': { get: { responses: { '200': { description: 'ok' } } } },
      '/order/{orderId}': { put: { responses: { '200': { description: 'ok' } } } },
    },
  });
  const gw = await startTestGateway(
    t,
    `version: 1
apis:
  - name: Legacy
    context: /ctx
    version: ver
    resources: { openapi: defs/swagger.json }
    endpoints: { production: { url: "${backend.url}/backend-base" } }
`,
    { defs: { 'swagger.json': swagger } },
  );
  const menu = await request(`${gw.url}/ctx/ver/menu`);
  t.equal(menu.status, 200);
  t.equal(json<Echo>(menu).url, '/backend-base/menu', "joined to the endpoint's path, not to basePath");
  t.equal((await request(`${gw.url}/ctx/ver/order/9`, { method: 'PUT', body: '{}' })).status, 200);

  const withBasePath = await request(`${gw.url}/ctx/ver/basepath/menu`);
  t.equal(withBasePath.status, 404);
  t.equal(json<ErrorBody>(withBasePath).error.message, 'API "Legacy" version ver has no resource /basepath/menu');
  const order = await request(`${gw.url}/ctx/ver/order/9`);
  t.equal(order.status, 405);
  t.equal(order.headers.allow, 'PUT');
  t.equal(backend.requests.length, 2);
});

t.test('OpenAPI 3.1 with a path item by $ref, beside an API with a list and one with no resources', async (t) => {
  const backend = await startBackend(t);
  const definition = `openapi: 3.1.0
info: { title: Orders, version: "2" }
paths:
  /orders:
    $ref: '#/components/pathItems/Orders'
components:
  pathItems:
    Orders:
      get: ${OK}
      post: ${OK}
`;
  const gw = await startTestGateway(
    t,
    `version: 1
apis:
  - { name: Orders, context: /orders, version: v2, resources: { openapi: orders.yaml }, endpoints: { production: { url: "${backend.url}" } } }
  - { name: Listed, context: /listed, version: v1, resources: [{ path: /menu, methods: [GET] }], endpoints: { production: { url: "${backend.url}" } } }
  - { name: Open, context: /open, version: v1, endpoints: { production: { url: "${backend.url}" } } }
`,
    { 'orders.yaml': definition },
  );
  t.equal(await status(`${gw.url}/orders/v2/orders`), 200);
  t.equal(await status(`${gw.url}/orders/v2/orders`, 'POST'), 200);
  const del = await request(`${gw.url}/orders/v2/orders`, { method: 'DELETE' });
  t.equal(del.status, 405);
  t.equal(del.headers.allow, 'GET, POST');
  t.equal(await status(`${gw.url}/orders/v2/components/pathItems/Orders`), 404);
  t.equal(await status(`${gw.url}/listed/v1/menu`), 200, 'the list form beside it is unaffected');
  t.equal(await status(`${gw.url}/listed/v1/orders`), 404);
  t.equal(await status(`${gw.url}/open/v1/anything/at/all`, 'DELETE'), 200, 'an API without resources allows every path');
});

t.test('reloadNow after the definition is edited: the added path is served, the removed one is 404', async (t) => {
  const { gw, definition, base } = await pizzaGateway(t);
  t.equal(await status(`${base}/menu`), 200);
  t.equal(await status(`${base}/drinks`), 404);
  const revision = gw.gateway.holder.current.config.revision;

  writeFileSync(definition, PIZZA.replace('  /menu:\n    get:', '  /drinks:\n    get:'));
  const outcome = await gw.gateway.reloader.reloadNow('test');
  t.equal(outcome.kind, 'applied');
  if (outcome.kind === 'applied') {
    t.not(outcome.revision, revision, 'the definition is part of the revision');
    t.same(
      outcome.changes.apis.changed.map((c) => c.name),
      ['Pizza v1'],
    );
    t.same(outcome.changes.endpoints.changed, [], 'the endpoint did not change');
  }
  t.equal(await status(`${base}/drinks`), 200, 'the added path');
  const removed = await request(`${base}/menu`);
  t.equal(removed.status, 404, 'the removed path');
  t.equal(json<ErrorBody>(removed).error.code, 'NO_ROUTE');
  t.equal(await status(`${base}/order/1`, 'DELETE'), 200, 'the path that stayed');

  writeFileSync(definition, PIZZA.replace('  /menu:\n    get:', '  /drinks:\n    get:'));
  t.equal((await gw.gateway.reloader.reloadNow('test')).kind, 'unchanged', 'the same bytes written again: nothing to apply');

  // A second edit: the reload's worker now holds compiled APIs of its own to reuse or not.
  writeFileSync(definition, PIZZA.replace('    delete:', '    patch:'));
  t.equal((await gw.gateway.reloader.reloadNow('test')).kind, 'applied', 'edited again');
  t.equal(await status(`${base}/menu`), 200, 'back');
  t.equal(await status(`${base}/drinks`), 404, 'gone again');
  t.equal(await status(`${base}/order/1`, 'PATCH'), 200, 'the method added');
  const deleted = await request(`${base}/order/1`, { method: 'DELETE' });
  t.equal(deleted.status, 405, 'the method removed');
  t.equal(deleted.headers.allow, 'GET, PUT, PATCH');
});

t.test('the watcher: writing the definition alone triggers a reload', async (t) => {
  const { gw, definition, base } = await pizzaGateway(t, '100ms');
  t.equal(await status(`${base}/drinks`), 404);
  const applied = nextReload(gw.gateway, 'applied', 15_000);
  writeFileSync(definition, `${PIZZA}  /drinks:\n    get: ${OK}\n`);
  const outcome = await applied;
  t.match(outcome.reason, /files changed/, 'a reload the watcher asked for');
  t.same(
    outcome.changes.apis.changed.map((c) => c.name),
    ['Pizza v1'],
  );
  t.equal(await status(`${base}/drinks`), 200);
  t.equal(await status(`${base}/menu`), 200);
});

t.test('a broken definition at reload is rejected, naming the file and the line; the old resources keep serving; fixed, it applies', async (t) => {
  const { gw, definition, base } = await pizzaGateway(t);
  const broken = `${PIZZA}  /drinks:\n    gte: ${OK}\n`;
  writeFileSync(definition, broken);
  const outcome = await gw.gateway.reloader.reloadNow('test');
  t.equal(outcome.kind, 'rejected');
  const errors = outcome.kind === 'rejected' ? outcome.diagnostics.filter((d) => d.severity === 'error') : [];
  const line = broken.split('\n').indexOf(`    gte: ${OK}`) + 1;
  t.match(errors, [
    {
      code: 'OPENAPI_FILE',
      file: definition,
      line,
      column: 5,
      message: /is not a valid OpenAPI 3\.0\.3 definition: .*gte is not expected to be here/,
    },
  ]);
  t.equal(errors.length, 1);
  t.equal(await status(`${base}/menu`), 200, 'the old resources keep serving');
  t.equal(await status(`${base}/drinks`), 404, 'and only them');
  const logged = gw.logs.find((l) => l.msg === 'configuration rejected; generation 1 keeps serving');
  t.match(logged?.errors, [new RegExp(`pizza\\.yaml:${line}:5 .*gte is not expected to be here`)], 'the log names the file and the line');

  const refusedRef = `${PIZZA}  /drinks:\n    $ref: ./drinks.yaml\n`;
  writeFileSync(path.join(gw.dir, 'drinks.yaml'), `get: ${OK}\n`);
  writeFileSync(definition, refusedRef);
  const outside = await gw.gateway.reloader.reloadNow('test');
  t.equal(outside.kind, 'rejected', 'a $ref to another file, even readable, at reload too');
  t.match(outside.kind === 'rejected' ? outside.diagnostics : [], [{ code: 'OPENAPI_FILE', file: definition, line: refusedRef.split('\n').indexOf('    $ref: ./drinks.yaml') + 1, message: /\$ref "\.\/drinks\.yaml" points outside/ }]);
  t.equal(await status(`${base}/drinks`), 404);

  // src/config/compile.ts reuses the API compiled (with resources: []) during the rejected
  // reload, so the fixed definition is applied with no resources: see test/config/openapi.test.ts.
  writeFileSync(definition, `${PIZZA}  /drinks:\n    get: ${OK}\n`);
  const fixed = await gw.gateway.reloader.reloadNow('test');
  t.equal(fixed.kind, 'applied', 'fixed');
  t.equal(await status(`${base}/drinks`), 200, 'the added path');
  t.equal(await status(`${base}/menu`), 200, 'the path that was there');
  t.strictSame(gw.gateway.holder.current.config.apis[0]!.resourcesFrom?.file, definition);
});

t.test('the definition deleted: rejected, naming it; the old resources keep serving', async (t) => {
  const { gw, definition, base } = await pizzaGateway(t);
  rmSync(definition);
  const outcome = await gw.gateway.reloader.reloadNow('test');
  t.equal(outcome.kind, 'rejected');
  t.match(outcome.kind === 'rejected' ? outcome.diagnostics : [], [{ code: 'OPENAPI_FILE', file: definition, message: /cannot read the OpenAPI definition: it does not exist/ }]);
  t.equal(await status(`${base}/menu`), 200);
  t.equal(await status(`${base}/admin`), 404, 'never every path allowed');

  writeFileSync(definition, PIZZA);
  t.equal((await gw.gateway.reloader.reloadNow('test')).kind, 'unchanged', 'restored as it was: what is served already');
  t.equal(await status(`${base}/menu`), 200);

  writeFileSync(definition, `${PIZZA}  /drinks:\n    get: ${OK}\n`);
  t.equal((await gw.gateway.reloader.reloadNow('test')).kind, 'applied', 'then edited');
  t.equal(await status(`${base}/drinks`), 200, 'then edited: the added path');
  t.equal(await status(`${base}/menu`), 200, 'then edited: the path that was there');
});

t.test('gatehouse plan: the resources line and what is not used for routing', async (t) => {
  // Outside this repository (tap's fixtures live inside it, and plan would compare with git).
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-openapi-plan-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    path.join(dir, 'gateway.yaml'),
    `version: 1
apis:
  - { name: Pizza, context: /pizza, version: v1, resources: { openapi: ./pizza.yaml }, endpoints: { production: { url: "http://127.0.0.1:1" } } }
  - { name: Legacy, context: /legacy, version: v1, resources: { openapi: ./swagger.json }, endpoints: { production: { url: "http://127.0.0.1:1" } } }
  - { name: Plain, context: /plain, version: v1, resources: [{ path: /menu, methods: [GET] }], endpoints: { production: { url: "http://127.0.0.1:1" } } }
`,
  );
  writeFileSync(path.join(dir, 'pizza.yaml'), PIZZA);
  writeFileSync(
    path.join(dir, 'swagger.json'),
    JSON.stringify({ swagger: '2.0', info: { title: 'L', version: '1' }, host: 'legacy.example.com', basePath: '/basepath', paths: { '/menu': { get: { responses: { '200': { description: 'ok' } } } } } }),
  );
  const result = await runCli(['plan'], { cwd: dir });
  t.equal(result.code, 0, result.stderr);
  const out = result.stdout;
  t.match(
    out,
    [
      '  + Pizza v1  (context /pizza)',
      '      resources: 4 paths from pizza.yaml (OpenAPI 3.0.3)',
      '      not used for routing: servers https://pizza.example.com/pizza/v1; TRACE /menu (the gateway forwards no TRACE); /files/{name}.json is matched as /files/{p2} (a parameter inside a segment matches the whole segment)',
      '  + Legacy v1  (context /legacy)',
      '      resources: 1 path from swagger.json (Swagger 2.0)',
      '      not used for routing: host legacy.example.com; basePath /basepath',
      '  + Plain v1  (context /plain)',
    ].join('\n'),
  );
  t.match(out, /\n {2}\+ Plain v1 {2}\(context \/plain\)\n\nEndpoints\n/, 'the API with a list has no resources line');
  t.notMatch(out, new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'the definition is named by its file name, not its folder');

  const asJson = JSON.parse((await runCli(['plan', '--format', 'json'], { cwd: dir })).stdout) as { changes: { apis: { added: string[] } } };
  t.same(asJson.changes.apis.added, ['Pizza v1', 'Legacy v1', 'Plain v1']);

  // A broken definition: no plan, the error at the definition's line.
  writeFileSync(path.join(dir, 'pizza.yaml'), PIZZA.replace('    put:', '    pust:'));
  const broken = await runCli(['plan'], { cwd: dir });
  t.equal(broken.code, 1);
  t.match(broken.stderr, new RegExp(`pizza\\.yaml:${PIZZA.split('\n').indexOf('    put: ' + OK) + 1}:5 .*pust is not expected to be here.*OPENAPI_FILE`));
});
