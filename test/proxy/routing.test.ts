// Routing (docs/http.md): versions and the default version, the longest context, the resources
// allow-list, production and sandbox endpoints, the path joined to the endpoint's base path and
// the query string kept.
import t from 'tap';
import type { Test } from 'tap';
import { Router } from '../../src/snapshot/routes.js';
import { ResourceTable } from '../../src/snapshot/resources.js';
import { startBackend } from '../helpers/backend.js';
import type { Backend, Echo } from '../helpers/backend.js';
import { json, request } from '../helpers/client.js';
import { startTestGateway } from '../helpers/gateway.js';

interface ErrorBody {
  error: { code: string; message: string };
}

t.test('the router: longest context first, versions, default version, misses', async (t) => {
  const api = (context: string, version: string, isDefault = false) => [{ context, version, isDefault }, `${context}@${version}`] as const;
  const router = new Router([api('/shop', 'v1'), api('/shop', 'v2', true), api('/shop/admin', 'v1'), api('/a/b/c', 'x')]);
  const table: [string, unknown][] = [
    ['/shop/v1/items', { target: '/shop@v1', rest: '/items' }],
    ['/shop/v1', { target: '/shop@v1', rest: '' }],
    ['/shop/v2/', { target: '/shop@v2', rest: '/' }],
    ['/shop/items', { target: '/shop@v2', rest: '/items' }],
    ['/shop', { target: '/shop@v2', rest: '' }],
    ['/shop/v3/items', { target: '/shop@v2', rest: '/v3/items' }],
    ['/shop/admin/v1/users', { target: '/shop/admin@v1', rest: '/users' }],
    ['/shop/admin/users', { reason: 'no-version', context: '/shop/admin', versions: 'v1' }],
    ['/shopping/v1', { reason: 'no-context' }],
    ['/a/b/c/x/deep/path', { target: '/a/b/c@x', rest: '/deep/path' }],
    ['/a/b', { reason: 'no-context' }],
    ['/', { reason: 'no-context' }],
  ];
  for (const [path, expected] of table) t.same(router.match(path), expected, path);
});

t.test('the resource table: literals, {parameters}, trailing /*, methods', async (t) => {
  const table = new ResourceTable([
    { path: '/menu', methods: ['GET'] },
    { path: '/order/{orderId}', methods: ['GET', 'PUT', 'DELETE'] },
    { path: '/files/*', methods: ['GET', 'POST'] },
    { path: '/', methods: ['HEAD'] },
  ]);
  const cases: [string, string, unknown][] = [
    ['/menu', 'GET', { kind: 'allowed' }],
    ['/menu', 'POST', { kind: 'method', allow: 'GET' }],
    ['/menu/extra', 'GET', { kind: 'not-listed' }],
    ['/order/42', 'PUT', { kind: 'allowed' }],
    ['/order/42', 'POST', { kind: 'method', allow: 'GET, PUT, DELETE' }],
    ['/order/', 'GET', { kind: 'not-listed' }],
    ['/order/42/items', 'GET', { kind: 'not-listed' }],
    ['/files', 'GET', { kind: 'allowed' }],
    ['/files/a/b/c.txt', 'POST', { kind: 'allowed' }],
    ['/filesx', 'GET', { kind: 'not-listed' }],
    ['', 'HEAD', { kind: 'allowed' }],
    ['/', 'GET', { kind: 'method', allow: 'HEAD' }],
  ];
  for (const [path, method, expected] of cases) t.same(table.match(path, method), expected, `${method} ${path}`);
});

async function twoBackends(t: Test): Promise<[Backend, Backend]> {
  return [await startBackend(t), await startBackend(t)];
}

t.test('versions, the default version, and the longest context, through the gateway', async (t) => {
  const [v1, v2] = await twoBackends(t);
  const admin = await startBackend(t);
  const gw = await startTestGateway(
    t,
    `version: 1
apis:
  - { name: Shop, context: /shop, version: "1.0", endpoints: { production: { url: "${v1.url}/api/v1" } } }
  - { name: Shop, context: /shop, version: "2.0", default: true, endpoints: { production: { url: "${v2.url}/api/v2/" } } }
  - { name: Admin, context: /shop/admin, version: v1, endpoints: { production: { url: "${admin.url}" } } }
`,
  );
  const echo = async (path: string) => json<Echo>(await request(`${gw.url}${path}`)).url;
  t.equal(await echo('/shop/1.0/items?x=1&y=%20z'), '/api/v1/items?x=1&y=%20z', 'version 1.0: base path joined, query kept byte for byte');
  t.equal(await echo('/shop/2.0/items'), '/api/v2/items', 'a trailing / on the base path is not doubled');
  t.equal(await echo('/shop/items?q'), '/api/v2/items?q', 'the default version without the version segment');
  t.equal(await echo('/shop'), '/api/v2', 'the context alone');
  t.equal(await echo('/shop/1.0'), '/api/v1', 'the version alone');
  t.equal(await echo('/shop/admin/v1/users'), '/users', 'the longest context wins');
  t.equal(v1.requests.length, 2);
  t.equal(v2.requests.length, 3);

  const noVersion = await request(`${gw.url}/shop/admin/users`);
  t.equal(noVersion.status, 404);
  t.equal(json<ErrorBody>(noVersion).error.message, '/shop/admin has no default version; call /shop/admin/{version}/... with one of: v1');
  const nothing = await request(`${gw.url}/nothing/here`);
  t.equal(nothing.status, 404);
  t.same(json<ErrorBody>(nothing).error, { code: 'NO_ROUTE', message: 'no API at /nothing/here', requestId: nothing.headers['x-request-id'] });
});

t.test('resources: 404 for a path not listed, 405 with Allow for a method not listed', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(
    t,
    `version: 1
apis:
  - name: Pizza
    context: /pizza
    version: v1
    resources:
      - { path: /menu, methods: [GET] }
      - { path: "/order/{orderId}", methods: [GET, PUT, DELETE] }
    endpoints: { production: { url: "${backend.url}" } }
`,
  );
  t.equal((await request(`${gw.url}/pizza/v1/menu`)).status, 200);
  t.equal((await request(`${gw.url}/pizza/v1/order/7`, { method: 'DELETE' })).status, 200);
  const missing = await request(`${gw.url}/pizza/v1/admin`);
  t.equal(missing.status, 404);
  t.same(json<ErrorBody>(missing).error.message, 'API "Pizza" version v1 has no resource /admin');
  const wrong = await request(`${gw.url}/pizza/v1/order/7`, { method: 'POST', body: '{}' });
  t.equal(wrong.status, 405);
  t.equal(wrong.headers.allow, 'GET, PUT, DELETE');
  t.same(json<ErrorBody>(wrong).error, {
    code: 'METHOD_NOT_ALLOWED',
    message: 'POST is not allowed on /order/7 of API "Pizza" version v1 (allowed: GET, PUT, DELETE)',
    requestId: wrong.headers['x-request-id'],
  });
  t.equal(backend.requests.length, 2, 'refused requests never reach the backend');
});

t.test('the sandbox header selects the sandbox endpoint, and is not forwarded', async (t) => {
  const [production, sandbox] = await twoBackends(t);
  const gw = await startTestGateway(
    t,
    `version: 1
routing: { sandboxHeader: X-Env }
apis:
  - { name: Pay, context: /pay, version: v1, endpoints: { production: { url: "${production.url}" }, sandbox: { url: "${sandbox.url}" } } }
  - { name: Prod, context: /prod, version: v1, endpoints: { production: { url: "${production.url}" } } }
`,
  );
  await request(`${gw.url}/pay/v1/charge`, { headers: { 'x-env': 'sandbox' } });
  await request(`${gw.url}/pay/v1/charge`, { headers: { 'X-Env': 'SANDBOX' } });
  await request(`${gw.url}/pay/v1/charge`, { headers: { 'x-env': 'production' } });
  await request(`${gw.url}/pay/v1/charge`);
  t.equal(sandbox.requests.length, 2, 'sandbox, in any case');
  t.equal(production.requests.length, 2);
  t.equal(sandbox.requests[0]!.headers['x-env'], undefined, 'the selector is the gateway\'s, not the backend\'s');
  t.equal(production.requests[0]!.headers['x-env'], undefined);

  const refused = await request(`${gw.url}/prod/v1/charge`, { headers: { 'x-env': 'sandbox' } });
  t.equal(refused.status, 404, 'a sandbox request to an API without sandbox is refused, never sent to production');
  t.equal(json<ErrorBody>(refused).error.message, 'API "Prod" version v1 has no sandbox endpoint');
  t.equal(production.requests.length, 2);
});
