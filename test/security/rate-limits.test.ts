// Rate limits end to end (SPEC §11, docs/security.md): real gateways (in this process, or `gatehouse
// run` in child processes, with workers), real backends that record what reaches them, a real
// redis-server stopped, restarted and frozen. Per client address on an open API (behind a trusted
// proxy), per key with plans (the tighter refuses), per token subject; 429 RATE_LIMITED with
// Retry-After and RateLimit-*, RateLimit-* on what is allowed; counts across reloads, across
// workers and across replicas; onStoreError allow and deny while Redis is away, counting again once
// it is back; /status, the metrics and the log lines; the configuration's mistakes at their lines;
// a Redis password never shown.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { JWTPayload } from 'jose';
import t from 'tap';
import type { Test } from 'tap';
import { newApiKey } from '../../src/config/keys.js';
import { loadConfig } from '../../src/config/load.js';
import { startBackend } from '../helpers/backend.js';
import type { Backend } from '../helpers/backend.js';
import { runCli } from '../helpers/cli.js';
import { json, request } from '../helpers/client.js';
import type { Response } from '../helpers/client.js';
import { startTestGateway } from '../helpers/gateway.js';
import type { LogCapture, LogLine } from '../helpers/gateway.js';
import { spawnGateway } from '../helpers/process.js';
import { parsePrometheus, select } from '../helpers/prometheus.js';
import type { Sample } from '../helpers/prometheus.js';
import { NO_REDIS, startRedis } from '../helpers/redis.js';
import { until, untilAsync } from '../helpers/wait.js';

// A behaviour bound, not a performance figure: the store's wait is 100 ms; a request that waited for
// Redis to come back (or for a connect timeout) would take seconds.
const ANSWER_BOUND_MS = 1_000;
const WARN = 40;
const INFO = 30;

interface RateLimitsStatus {
  store: { kind: string; url: string; reachable: boolean; since: string; lastError?: { message: string; at: string } };
  onStoreError: 'allow' | 'deny';
  plans: { name: string; requests: number; per: string }[];
}

const errorOf = (res: Response) => (JSON.parse(res.text) as { error: { code: string; message: string } }).error;

/** The RateLimit-* headers as numbers, or undefined when the response has none. */
function limitsOf(res: Response): { limit: number; remaining: number; reset: number } | undefined {
  if (res.headers['ratelimit-limit'] === undefined) return undefined;
  return { limit: Number(res.headers['ratelimit-limit']), remaining: Number(res.headers['ratelimit-remaining']), reset: Number(res.headers['ratelimit-reset']) };
}

/** How many times a header field is in the response (one RateLimit-Limit, not the backend's beside the gateway's). */
const fieldCount = (res: Response, name: string) => res.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === name).length;

const rateLimitsOf = async (adminUrl: string) => json<{ rateLimits: RateLimitsStatus | null }>(await request(`${adminUrl}/status`)).rateLimits;
// Gatehouse's own series only: just after a start, prom-client's event-loop lag reads "Nan", which parsePrometheus refuses.
const metrics = async (adminUrl: string) =>
  parsePrometheus(
    (await request(`${adminUrl}/metrics`)).text
      .split('\n')
      .filter((line) => line.startsWith('gatehouse_'))
      .join('\n'),
  );
const limitCount = (samples: readonly Sample[], api: string, outcome: string) => select(samples, 'gatehouse_rate_limit_requests_total', { api, version: 'v1', outcome })[0]?.value;
const storeUp = (samples: readonly Sample[]) => select(samples, 'gatehouse_rate_limit_store_up');
const storeLines = (logs: LogCapture): LogLine[] => logs.lines.filter((l) => l.code === 'RATE_LIMIT_STORE');

async function storeReachable(adminUrl: string, reachable: boolean): Promise<void> {
  await untilAsync(async () => (await rateLimitsOf(adminUrl))?.store.reachable === reachable, `/status to say the store is ${reachable ? 'reachable' : 'unreachable'}`);
}

/** A request through a trusted proxy (127.0.0.1) for `client`. */
const from = (client: string, headers: Record<string, string> = {}) => ({ headers: { 'x-forwarded-for': client, ...headers } });

/** A request, and how long its answer took. */
async function timed(url: string, options: Parameters<typeof request>[1] = {}): Promise<{ res: Response; ms: number }> {
  const started = performance.now();
  const res = await request(url, options);
  return { res, ms: performance.now() - started };
}

/** Asserts an allowed response: 200 with the RateLimit-* of `limit` and `remaining`, and a reset within the window. */
function allowed(t: Test, res: Response, limit: number, remaining: number, what: string, windowS = 60): void {
  t.equal(res.status, 200, `${what}: 200`);
  const limits = limitsOf(res);
  t.same(limits && { limit: limits.limit, remaining: limits.remaining }, { limit, remaining }, `${what}: RateLimit-Limit ${limit}, RateLimit-Remaining ${remaining}`);
  t.ok(limits && limits.reset >= 1 && limits.reset <= windowS, `${what}: RateLimit-Reset ${limits?.reset} within the window`);
}

/** Asserts a refusal: 429 RATE_LIMITED with Retry-After and RateLimit-* of `limit`; returns the message. */
function limited(t: Test, res: Response, limit: number, what: string, windowS = 60): string {
  t.equal(res.status, 429, `${what}: 429`);
  const error = res.status === 429 ? errorOf(res) : { code: '', message: '' };
  t.equal(error.code, 'RATE_LIMITED', `${what}: RATE_LIMITED`);
  const retryAfter = Number(res.headers['retry-after']);
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= windowS, `${what}: Retry-After ${res.headers['retry-after']} is whole seconds within the window`);
  const limits = limitsOf(res);
  t.same(limits && { limit: limits.limit, remaining: limits.remaining }, { limit, remaining: 0 }, `${what}: RateLimit-Limit ${limit}, RateLimit-Remaining 0`);
  t.equal(limits?.reset, retryAfter, `${what}: RateLimit-Reset is Retry-After`);
  return error.message;
}

// ------------------------------------------------------------------ memory, in this process

const openYaml = (orders: string, free: string) => `version: 1
listen: { http: "127.0.0.1:0", trustedProxies: ["127.0.0.1"] }
admin: { address: "127.0.0.1:0" }
apis:
  - name: Orders
    context: /orders
    version: v1
    resources: [{ path: /items, methods: [GET] }]
    rateLimit: { requests: 3, per: 1m }
    endpoints: { production: { url: "${orders}" } }
  - { name: Free, context: /free, version: v1, endpoints: { production: { url: "${free}" } } }
`;

/** A backend that sends RateLimit-* of its own: the gateway's replace them. */
function backendWithLimits(t: Test, tag: string): Promise<Backend> {
  return startBackend(t, {
    handler: (_req, res) => {
      res.writeHead(200, { 'ratelimit-limit': '1000', 'ratelimit-remaining': '999', 'ratelimit-reset': '1', 'x-served-by': tag });
      res.end(tag);
    },
  });
}

t.test('memory, an open API: counted per client address after the resources check; 429 with Retry-After and RateLimit-*; the backend sees only what is allowed', async (t) => {
  const orders = await backendWithLimits(t, 'orders');
  const free = await backendWithLimits(t, 'free');
  const gw = await startTestGateway(t, openYaml(orders.url, free.url));
  const url = `${gw.url}/orders/v1/items`;

  // Refused before counting: a path the resources do not list, a method they do not allow.
  t.equal((await request(`${gw.url}/orders/v1/other`, from('203.0.113.7'))).status, 404);
  t.equal((await request(url, { method: 'DELETE', ...from('203.0.113.7') })).status, 405);

  for (let i = 1; i <= 3; i++) {
    const res = await request(url, from('203.0.113.7'));
    allowed(t, res, 3, 3 - i, `request ${i}`);
    t.equal(res.text, 'orders');
    t.equal(res.headers['x-served-by'], 'orders', "the backend's other headers pass");
    t.same(
      ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'].map((name) => fieldCount(res, name)),
      [1, 1, 1],
      "the backend's RateLimit-* are replaced, not repeated",
    );
  }
  const refused = await request(url, from('203.0.113.7', { 'x-request-id': 'rl-open-429' }));
  const message = limited(t, refused, 3, 'request 4');
  t.equal(message.replace(/retry in \d+ s$/, 'retry in N s'), 'API "Orders" version v1 allows 3 requests per 1m from 203.0.113.7; retry in N s');
  t.equal(refused.headers['x-served-by'], undefined, 'the gateway answered');
  limited(t, await request(url, from('203.0.113.7')), 3, 'request 5');
  t.equal(orders.requests.length, 3, 'the backend received exactly the 3 allowed');
  const line = await gw.logs.request('rl-open-429');
  t.match(line, { status: 429, code: 'RATE_LIMITED', client: '203.0.113.7', rateLimit: 'api:Orders:v1' }, 'the access line names the client and the rule');

  // Another client, and the proxy's own address: counts of their own.
  allowed(t, await request(url, from('198.51.100.9')), 3, 2, 'another client address');
  allowed(t, await request(url, from('198.51.100.9')), 3, 1, 'its second request');
  allowed(t, await request(url), 3, 2, 'the proxy itself (no X-Forwarded-For)');
  // The client is the last address before the trusted proxies: what it wrote before that changes nothing.
  limited(t, await request(url, from('198.51.100.200, 203.0.113.7')), 3, 'the address the trusted proxy forwarded for');
  t.equal(orders.requests.length, 6);

  // An API without a rateLimit: nothing counted, the backend's own headers untouched.
  for (let i = 0; i < 5; i++) {
    const res = await request(`${gw.url}/free/v1/x`, from('203.0.113.7'));
    t.equal(res.status, 200);
    if (i === 4) t.equal(res.headers['ratelimit-limit'], '1000', "an API without limits passes the backend's RateLimit-* as they are");
  }

  const samples = await metrics(gw.adminUrl);
  t.equal(limitCount(samples, 'Orders', 'allowed'), 6);
  t.equal(limitCount(samples, 'Orders', 'limited'), 3);
  t.equal(limitCount(samples, 'Orders', 'store_error_allowed'), 0);
  t.equal(select(samples, 'gatehouse_rate_limit_requests_total', { api: 'Free' }).length, 0, 'an API without limits has no series');
  t.same(
    storeUp(samples).map((s) => [s.labels.store, s.value]),
    [['memory', 1]],
  );
  const status = await rateLimitsOf(gw.adminUrl);
  t.match(status, { store: { kind: 'memory', url: 'memory', reachable: true }, onStoreError: 'allow', plans: [] });
  t.notOk(status && 'lastError' in status.store, 'memory never failed');
});

const KEYED_PLAN = newApiKey();
const KEYED_PLAN_2 = newApiKey();
const KEYED_NONE = newApiKey();
const KEYED_BIG = newApiKey();
const keyEntry = (name: string, sha256: string, apis: string[], plan?: string) => `- { name: ${name}, sha256: ${sha256}, type: production, apis: [${apis.join(', ')}]${plan ? `, plan: ${plan}` : ''} }\n`;

const keyedYaml = (orders: string, reports: string) => `version: 1
listen: { http: "127.0.0.1:0" }
admin: { address: "127.0.0.1:0" }
keys: { file: ./keys.yaml }
plans:
  Gold: { requests: 2, per: 1m }
  Big: { requests: 100, per: 1m }
defaults:
  security: { apiKey: {} }
apis:
  - { name: Orders, context: /orders, version: v1, rateLimit: { requests: 4, per: 1m }, endpoints: { production: { url: "${orders}" } } }
  - { name: Reports, context: /reports, version: v1, endpoints: { production: { url: "${reports}" } } }
`;

t.test('API keys with plans: per key, the tighter of the plan and the API refuses with its own figures', async (t) => {
  const orders = await startBackend(t, { handler: (_req, res) => res.end('orders') });
  const reports = await startBackend(t, { handler: (_req, res) => res.end('reports') });
  const keys =
    keyEntry('gold-web', KEYED_PLAN.sha256, ['Orders', 'Reports'], 'Gold') +
    keyEntry('gold-mobile', KEYED_PLAN_2.sha256, ['Orders'], 'Gold') +
    keyEntry('no-plan', KEYED_NONE.sha256, ['Orders', 'Reports']) +
    keyEntry('big', KEYED_BIG.sha256, ['Orders'], 'Big');
  const gw = await startTestGateway(t, keyedYaml(orders.url, reports.url), { 'keys.yaml': keys });
  const call = (api: string, key: string, id?: string) => request(`${gw.url}/${api}/v1/x`, { headers: { apikey: key, ...(id ? { 'x-request-id': id } : {}) } });

  // Not counted: a request that does not authenticate.
  for (let i = 0; i < 5; i++) t.equal((await request(`${gw.url}/orders/v1/x`)).status, 401);

  // Gold (2 per 1m) is tighter than Orders' own 4 per 1m: its figures show, and it refuses.
  allowed(t, await call('orders', KEYED_PLAN.key), 2, 1, 'gold-web 1');
  allowed(t, await call('orders', KEYED_PLAN.key), 2, 0, 'gold-web 2');
  const planMessage = limited(t, await call('orders', KEYED_PLAN.key, 'rl-plan-429'), 2, 'gold-web 3');
  t.match(planMessage, /^the plan "Gold" of this key on API "Orders" version v1 allows 2 requests per 1m to each key; retry in \d+ s$/, 'the message names the plan');
  t.notMatch(planMessage, /gold-web/, "the client's message does not name the key");
  t.match(await gw.logs.request('rl-plan-429'), { apiKey: 'gold-web', rateLimit: 'plan:Gold:Orders:v1' }, 'the log does, and the rule');

  // Another key of the same plan: its own count.
  allowed(t, await call('orders', KEYED_PLAN_2.key), 2, 1, 'gold-mobile, its own count');
  // The plan counts per API: gold-web has its whole plan on Reports, which has no rateLimit of its own.
  allowed(t, await call('reports', KEYED_PLAN.key), 2, 1, 'gold-web on Reports');

  // A key without a plan: the API's own rule only.
  for (let i = 1; i <= 4; i++) allowed(t, await call('orders', KEYED_NONE.key), 4, 4 - i, `no-plan ${i}`);
  const apiMessage = limited(t, await call('orders', KEYED_NONE.key), 4, 'no-plan 5');
  t.match(apiMessage, /^API "Orders" version v1 allows 4 requests per 1m to each key; retry in \d+ s$/, 'the API refuses, no plan named');
  // ... and on an API without a rateLimit, nothing at all.
  for (let i = 0; i < 6; i++) {
    const res = await call('reports', KEYED_NONE.key);
    t.equal(res.status, 200);
    t.equal(res.headers['ratelimit-limit'], undefined, 'no-plan on Reports: not counted, no RateLimit-*');
  }

  // A plan looser than the API: the API's rule is the tighter and refuses.
  for (let i = 1; i <= 4; i++) allowed(t, await call('orders', KEYED_BIG.key), 4, 4 - i, `big ${i}`);
  t.match(limited(t, await call('orders', KEYED_BIG.key), 4, 'big 5'), /^API "Orders" version v1 allows 4 requests/);

  t.equal(orders.requests.length, 2 + 1 + 4 + 4, 'Orders received exactly the allowed requests');
  t.equal(reports.requests.length, 1 + 6);
  t.notOk(orders.requests.some((r) => 'apikey' in r.headers), 'no key reached the backend');

  const samples = await metrics(gw.adminUrl);
  t.equal(limitCount(samples, 'Orders', 'allowed'), 11);
  t.equal(limitCount(samples, 'Orders', 'limited'), 3);
  t.equal(limitCount(samples, 'Reports', 'allowed'), 1, 'only the key with a plan is counted on Reports');
  t.same((await rateLimitsOf(gw.adminUrl))?.plans, [
    { name: 'Gold', requests: 2, per: '1m' },
    { name: 'Big', requests: 100, per: '1m' },
  ]);
});

t.test('JWT: counted per token subject, whatever the token', async (t) => {
  const ISSUER = 'https://idp.test/';
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] });
  const now = () => Math.floor(Date.now() / 1000);
  const sign = (claims: JWTPayload) =>
    new SignJWT({ iss: ISSUER, aud: 'orders', exp: now() + 300, iat: now(), ...claims }).setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'JWT' }).sign(privateKey);
  const backend = await startBackend(t);
  const gw = await startTestGateway(
    t,
    `version: 1
listen: { http: "127.0.0.1:0", trustedProxies: ["127.0.0.1"] }
admin: { address: "127.0.0.1:0" }
apis:
  - name: Orders
    context: /orders
    version: v1
    security: { jwt: { issuer: "${ISSUER}", audience: orders, jwks: ./jwks.json } }
    rateLimit: { requests: 2, per: 1m }
    endpoints: { production: { url: "${backend.url}" } }
`,
    { 'jwks.json': jwks },
  );
  const url = `${gw.url}/orders/v1/x`;
  const as = (token: string, client = '203.0.113.1') => request(url, from(client, { authorization: `Bearer ${token}` }));

  const alice = await sign({ sub: 'alice' });
  allowed(t, await as(alice), 2, 1, 'alice 1');
  allowed(t, await as(alice, '198.51.100.1'), 2, 0, 'alice 2, from another address: the same count');
  t.match(limited(t, await as(alice), 2, 'alice 3'), /^API "Orders" version v1 allows 2 requests per 1m to each token subject; retry in \d+ s$/);
  limited(t, await as(await sign({ sub: 'alice', jti: 'another token' })), 2, "another of alice's tokens: still alice");
  allowed(t, await as(await sign({ sub: 'bob' })), 2, 1, 'bob: a count of his own, from the same address');
  // A token without sub is counted by the client address.
  const nobody = await sign({});
  allowed(t, await as(nobody, '192.0.2.1'), 2, 1, 'a token without sub from 192.0.2.1');
  allowed(t, await as(nobody, '192.0.2.2'), 2, 1, 'the same token from 192.0.2.2: another address, another count');
  allowed(t, await as(nobody, '192.0.2.2'), 2, 0, 'again from 192.0.2.2');
  t.match(limited(t, await as(nobody, '192.0.2.2'), 2, 'a token without sub, third from 192.0.2.2'), /^API "Orders" version v1 allows 2 requests per 1m from 192\.0\.2\.2; retry in \d+ s$/, 'its message names the address it is counted by');
  t.equal((await as('not.a.token')).status, 401, 'an invalid token is refused before counting');
  t.equal(backend.requests.length, 6);
  const samples = await metrics(gw.adminUrl);
  t.equal(limitCount(samples, 'Orders', 'allowed'), 6);
  t.equal(limitCount(samples, 'Orders', 'limited'), 3);
});

t.test("reloads: a changed figure starts a fresh count; reloads that leave the rule alone keep it, even when the API's endpoint changes", async (t) => {
  const a = await startBackend(t, { handler: (_req, res) => res.end('A') });
  const b = await startBackend(t, { handler: (_req, res) => res.end('B') });
  // reload.interval 1h: the watcher stays out of the way; each reload here is reloadNow's.
  const yaml = (backend: string, limit: string, extra = '') => `version: 1
listen: { http: "127.0.0.1:0" }
admin: { address: "127.0.0.1:0" }
reload: { interval: 1h }
apis:
  - { name: Orders, context: /orders, version: v1, rateLimit: ${limit}, endpoints: { production: { url: "${backend}" } } }
${extra}`;
  const gw = await startTestGateway(t, yaml(a.url, '{ requests: 2, per: 1m }'));
  const file = path.join(gw.dir, 'gateway.yaml');
  const url = `${gw.url}/orders/v1/x`;
  const reload = async (text: string) => {
    writeFileSync(file, text);
    return (await gw.gateway.reloader.reloadNow('test')).kind;
  };

  allowed(t, await request(url), 2, 1, 'request 1');
  allowed(t, await request(url), 2, 0, 'request 2');
  limited(t, await request(url), 2, 'request 3');

  t.equal(await reload(yaml(a.url, '{ requests: 2, per: 1m }', `  - { name: Extra, context: /extra, version: v1, endpoints: { production: { url: "${a.url}" } } }\n`)), 'applied', 'another API added');
  limited(t, await request(url), 2, 'after an unrelated reload: the count is kept');
  t.equal(await reload(yaml(b.url, '{ requests: 2, per: 1m }')), 'applied', "Orders' endpoint changed");
  limited(t, await request(url), 2, "after a reload of the API's endpoint, the rule the same: the count is kept");
  t.equal(await reload(yaml(b.url, '{ requests: 2, per: 500ms }')), 'rejected', 'a window below 1s is rejected');
  limited(t, await request(url), 2, 'after a rejected reload: the running count');
  t.equal(await reload(yaml(b.url, '{ requests: 3, per: 1m }')), 'applied', 'requests 2 → 3');
  const fresh = await request(url);
  allowed(t, fresh, 3, 2, 'a changed rule: a fresh count');
  t.equal(fresh.text, 'B');
  allowed(t, await request(url), 3, 1, 'counting on');
  t.equal(a.requests.length, 2);
  t.equal(b.requests.length, 2);
});

// ------------------------------------------------------------------ memory, workers

t.test('memory with listen.workers: 2: both workers draw from one count', async (t) => {
  const backend = await startBackend(t);
  const dir = t.testdir({
    'gateway.yaml': `version: 1
listen: { http: "127.0.0.1:0", workers: 2, shutdownDelay: 0 }
admin: { address: "127.0.0.1:0" }
apis:
  - { name: Orders, context: /orders, version: v1, rateLimit: { requests: 5, per: 1m }, endpoints: { production: { url: "${backend.url}" } } }
`,
  });
  const gw = await spawnGateway(t, dir);
  t.equal(gw.logs.find((l) => l.msg === 'gateway listening')?.workers, 2);
  const responses: Response[] = [];
  // A connection of its own for each (Connection: close): the primary spreads connections over both workers.
  for (let i = 0; i < 12; i++) responses.push(await request(`${gw.url}/orders/v1/x`, { headers: { connection: 'close', 'x-request-id': `rl-worker-${i}` } }));
  const ok = responses.filter((r) => r.status === 200);
  t.equal(ok.length, 5, 'exactly the limit was allowed, over both workers');
  t.same(
    ok.map((r) => limitsOf(r)?.remaining),
    [4, 3, 2, 1, 0],
    'each allowed request saw the shared count',
  );
  t.same(
    responses.slice(5).map((r) => r.status),
    Array(7).fill(429),
    'the rest refused',
  );
  t.equal(backend.requests.length, 5);
  await until(() => gw.logs.lines.filter((l) => l.msg === 'request').length === 12, 'the 12 access lines');
  const byWorker = (status: number) => new Set(gw.logs.lines.filter((l) => l.msg === 'request' && l.status === status).map((l) => l.worker));
  t.same([...new Set([...byWorker(200), ...byWorker(429)])].sort(), [1, 2], 'both workers served');
  t.ok(byWorker(200).size === 2 || byWorker(429).size === 2, 'and at least one kind of answer came from both (not one worker allowing, the other refusing)');

  const samples = await metrics(gw.adminUrl);
  t.equal(limitCount(samples, 'Orders', 'allowed'), 5, 'the workers’ counts summed');
  t.equal(limitCount(samples, 'Orders', 'limited'), 7);
  t.same(
    storeUp(samples).map((s) => [s.labels.store, s.value]),
    [['memory', 1]],
    "the store's state once (the primary's), not summed over workers",
  );
  t.match(await rateLimitsOf(gw.adminUrl), { store: { kind: 'cluster', url: 'memory', reachable: true } });
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0);
});

// ------------------------------------------------------------------ the configuration

t.test("the configuration's mistakes at their lines; a store URL's password never repeated", async (t) => {
  const api = (limit = '') => `apis:
  - name: Orders
    context: /orders
    version: v1
${limit}    security: { apiKey: {} }
    endpoints: { production: { url: "http://127.0.0.1:1" } }
`;
  const dir = t.testdir({
    'half-second.yaml': `version: 1\nkeys: { file: ./keys.yaml }\n${api('    rateLimit: { requests: 5, per: 500ms }\n')}`,
    'plan-fraction.yaml': `version: 1\nkeys: { file: ./keys.yaml }\nplans:\n  Gold: { requests: 2, per: 1m }\n  Silver: { requests: 3, per: 1500ms }\n${api()}`,
    'no-host.yaml': `version: 1\nkeys: { file: ./keys.yaml }\nrateLimits:\n  onStoreError: deny\n  store: "redis://:s3cret@"\n${api('    rateLimit: { requests: 5, per: 1s }\n')}`,
    'bad-scheme.yaml': `version: 1\nkeys: { file: ./keys.yaml }\nrateLimits: { store: "redsi://u:s3cret@redis.internal:6379" }\n${api('    rateLimit: { requests: 5, per: 1s }\n')}`,
    'bad-db.yaml': `version: 1\nkeys: { file: ./keys.yaml }\nrateLimits: { store: "redis://admin:s3cret@redis.internal:6379/zero" }\n${api('    rateLimit: { requests: 5, per: 1s }\n')}`,
    'from-env.yaml': `version: 1\nkeys: { file: ./keys.yaml }\nrateLimits: { store: "\${GATEHOUSE_REDIS_URL}" }\n${api('    rateLimit: { requests: 5, per: 1s }\n')}`,
    'keys.yaml': keyEntry('web', KEYED_PLAN.sha256, ['Orders']),
    'unknown-plan.yaml': `version: 1\nkeys: { file: ./plan-keys.yaml }\nplans:\n  Gold: { requests: 2, per: 1m }\n  Silver: { requests: 3, per: 1m }\n${api()}`,
    'plan-keys.yaml': keyEntry('web', KEYED_PLAN.sha256, ['Orders'], 'Gold') + keyEntry('mobile', KEYED_PLAN_2.sha256, ['Orders'], 'gold') + keyEntry('batch', KEYED_NONE.sha256, ['Orders'], 'Platinum'),
    'no-plans.yaml': `version: 1\nkeys: { file: ./one-plan-key.yaml }\n${api()}`,
    'one-plan-key.yaml': keyEntry('web', KEYED_PLAN.sha256, ['Orders'], 'Gold'),
    'fine.yaml': `version: 1\nkeys: { file: ./plan-keys-fine.yaml }\nplans:\n  Gold: { requests: 2, per: 1m }\nrateLimits: { store: "redis://:s3cret@redis.internal:6379/0", onStoreError: deny }\n${api('    rateLimit: { requests: 5, per: 2s }\n')}`,
    'plan-keys-fine.yaml': keyEntry('web', KEYED_PLAN.sha256, ['Orders'], 'Gold'),
  });
  const load = (file: string, env: Record<string, string> = {}) => loadConfig(path.join(dir, file), { env });
  const errors = async (file: string, env: Record<string, string> = {}) =>
    (await load(file, env)).diagnostics.filter((d) => d.severity === 'error').map((d) => ({ code: d.code, file: path.basename(d.file), line: d.line, path: d.path, message: d.message }));

  t.match(await errors('half-second.yaml'), [{ code: 'CONFIG_INVALID_VALUE', file: 'half-second.yaml', line: 7, path: 'apis[0].rateLimit.per', message: /whole number of seconds, at least 1s \(got "500ms"\).*about the same rate is \{ requests: 10, per: 1s \}$/ }]);
  t.equal((await errors('half-second.yaml')).length, 1);
  t.match(await errors('plan-fraction.yaml'), [{ code: 'CONFIG_INVALID_VALUE', line: 5, path: 'plans.Silver.per', message: /whole number of seconds, at least 1s \(got "1500ms"\).*about the same rate is \{ requests: 4, per: 2s \}$/ }]);
  t.equal((await errors('plan-fraction.yaml')).length, 1, 'only Silver: 1m is whole seconds');

  const noHost = await errors('no-host.yaml');
  t.match(noHost, [{ code: 'CONFIG_URL', line: 5, path: 'rateLimits.store', message: /the store must be memory, redis:\/\// }]);
  t.equal(noHost.length, 1);
  t.notMatch(JSON.stringify(noHost), /s3cret/, 'the message does not repeat the password');
  const badScheme = await errors('bad-scheme.yaml');
  t.match(badScheme, [{ code: 'CONFIG_URL', line: 3, path: 'rateLimits.store', message: /got redsi:\/\/u@redis\.internal:6379/ }], 'a misspelt scheme: said by the rule, without the password');
  t.equal(badScheme.length, 1, 'and not by the schema, which would quote the value whole');
  t.notMatch(JSON.stringify(badScheme), /s3cret/);
  const badDb = await errors('bad-db.yaml');
  t.match(badDb, [{ code: 'CONFIG_URL', line: 3, path: 'rateLimits.store', message: /got redis:\/\/admin@redis\.internal:6379\/zero/ }], 'the URL is shown without its password');
  t.notMatch(JSON.stringify(badDb), /s3cret/);
  const fromEnv = await errors('from-env.yaml', { GATEHOUSE_REDIS_URL: 'redis://:s3cret@' });
  t.match(fromEnv, [{ code: 'CONFIG_URL', line: 3 }], 'a URL from a variable is checked too');
  t.notMatch(JSON.stringify(fromEnv), /s3cret/);
  const fromEnvGood = await load('from-env.yaml', { GATEHOUSE_REDIS_URL: 'redis://:s3cret@redis.internal:6379/0' });
  t.ok(fromEnvGood.config, 'and a good one from a variable loads');

  const unknownPlan = await errors('unknown-plan.yaml');
  t.match(unknownPlan, [
    { code: 'KEYS_FILE', file: 'plan-keys.yaml', line: 2, message: /^key "mobile" has the plan "gold", and plans defines "Gold", "Silver" \(did you mean "Gold"\?\)/ },
    { code: 'KEYS_FILE', file: 'plan-keys.yaml', line: 3, message: /^key "batch" has the plan "Platinum", and plans defines "Gold", "Silver": / },
  ]);
  t.equal(unknownPlan.length, 2, 'the entry with a known plan is fine');
  t.notMatch(unknownPlan[1]?.message ?? '', /did you mean/, 'no guess when nothing is close');
  t.match(await errors('no-plans.yaml'), [{ code: 'KEYS_FILE', line: 1, message: /the plan "Gold", and gateway\.yaml defines no plans/ }]);

  const fine = await load('fine.yaml');
  t.ok(fine.config, 'whole seconds, a plan that exists and a Redis URL with a password load');
  t.match(fine.config?.rateLimits, { onStoreError: 'deny' });

  // As a user sees them: `gatehouse validate`, file:line:column, never the password.
  const cli = await runCli(['validate', '-c', 'no-host.yaml'], { cwd: dir });
  t.equal(cli.code, 1);
  t.match(cli.stdout + cli.stderr, /no-host\.yaml:5:\d+ {2}rateLimits\.store: the store must be memory/);
  t.notMatch(cli.stdout + cli.stderr, /s3cret/);
  const cliFine = await runCli(['validate', '-c', 'fine.yaml'], { cwd: dir });
  t.equal(cliFine.code, 0, cliFine.stdout);
  t.notMatch(cliFine.stdout + cliFine.stderr, /s3cret/, 'a valid configuration’s summary does not show it either');
});

// ------------------------------------------------------------------ Redis

const redisYaml = (backend: string, store: string, onStoreError: 'allow' | 'deny', requests = 3) => `version: 1
listen: { http: "127.0.0.1:0", trustedProxies: ["127.0.0.1"], shutdownDelay: 0 }
admin: { address: "127.0.0.1:0" }
rateLimits: { store: "${store}", onStoreError: ${onStoreError} }
apis:
  - { name: Orders, context: /orders, version: v1, rateLimit: { requests: ${requests}, per: 1m }, endpoints: { production: { url: "${backend}" } } }
`;

t.test('Redis', { skip: NO_REDIS }, async (t) => {
  t.test('two gateway processes on one Redis allow the limit once in all, not once each', async (t) => {
    const redis = await startRedis(t);
    const backend = await startBackend(t);
    const store = `${redis.url}/0`;
    const spawn = () => spawnGateway(t, t.testdir({ 'gateway.yaml': redisYaml(backend.url, store, 'deny') }));
    const replicas = [await spawn(), await spawn()];
    t.not(replicas[0]!.url, replicas[1]!.url, 'two listeners');
    for (const gw of replicas) await storeReachable(gw.adminUrl, true);

    const answers: Response[] = [];
    for (let i = 0; i < 10; i++) answers.push(await request(`${replicas[i % 2]!.url}/orders/v1/x`, from('203.0.113.5')));
    const ok = answers.filter((r) => r.status === 200);
    t.equal(ok.length, 3, '3 allowed across both replicas');
    t.same(
      ok.map((r) => limitsOf(r)?.remaining),
      [2, 1, 0],
      'each saw the shared count',
    );
    t.same(
      answers.slice(3).map((r) => r.status),
      Array(7).fill(429),
    );
    t.equal(backend.requests.length, 3, 'the backend received exactly the limit');
    allowed(t, await request(`${replicas[1]!.url}/orders/v1/x`, from('203.0.113.6')), 3, 2, 'another client: its own count');
    for (const gw of replicas) {
      t.match(storeLines(gw.logs), [{ level: INFO, store }], 'each says once where it counts');
      const samples = await metrics(gw.adminUrl);
      t.same(
        storeUp(samples).map((s) => [s.labels.store, s.value]),
        [[store, 1]],
      );
    }
    const [a, b] = await Promise.all(replicas.map(async (gw) => metrics(gw.adminUrl)));
    t.equal((limitCount(a!, 'Orders', 'allowed') ?? 0) + (limitCount(b!, 'Orders', 'allowed') ?? 0), 4);
    t.equal((limitCount(a!, 'Orders', 'limited') ?? 0) + (limitCount(b!, 'Orders', 'limited') ?? 0), 7);
  });

  t.test('Redis stops, onStoreError allow: served uncounted at once, said in /status, the metrics and the log; Redis back: counting again, no restart', async (t) => {
    const redis = await startRedis(t);
    const backend = await startBackend(t);
    const store = `${redis.url}/0`;
    const gw = await startTestGateway(t, redisYaml(backend.url, store, 'allow'));
    const url = `${gw.url}/orders/v1/x`;
    await storeReachable(gw.adminUrl, true);
    allowed(t, await request(url, from('203.0.113.1')), 3, 2, 'counted in Redis');
    t.match(storeLines(gw.logs), [{ level: INFO, store }]);

    await redis.stop();
    await storeReachable(gw.adminUrl, false);
    const warn = await gw.logs.waitFor((l) => l.code === 'RATE_LIMIT_STORE' && l.level === WARN);
    t.match(warn, { store, msg: /does not answer .*served uncounted \(rateLimits\.onStoreError: allow\)/ });
    for (let i = 1; i <= 5; i++) {
      const { res, ms } = await timed(url, from('203.0.113.1'));
      t.equal(res.status, 200, `while Redis is away, request ${i} is served`);
      t.equal(limitsOf(res), undefined, 'without RateLimit-* (nothing is known of the count)');
      t.ok(ms < ANSWER_BOUND_MS, `and answered at once (${ms.toFixed(0)} ms)`);
    }
    t.equal(backend.requests.length, 6, 'more than the limit reached the backend: uncounted');
    const down = await rateLimitsOf(gw.adminUrl);
    t.match(down, { store: { kind: 'redis', url: store, reachable: false, lastError: { message: /\S/, at: String } }, onStoreError: 'allow' });
    t.ok(Date.parse(down!.store.since) <= Date.now() && Date.parse(down!.store.since) >= Date.parse(down!.store.lastError!.at) - 60_000, 'since: when it stopped answering');
    let samples = await metrics(gw.adminUrl);
    t.equal(limitCount(samples, 'Orders', 'store_error_allowed'), 5);
    t.equal(limitCount(samples, 'Orders', 'allowed'), 1);
    t.same(
      storeUp(samples).map((s) => [s.labels.store, s.value]),
      [[store, 0]],
    );

    await redis.start();
    await storeReachable(gw.adminUrl, true);
    // A restarted Redis without persistence: the counts start again.
    allowed(t, await request(url, from('203.0.113.1')), 3, 2, 'counted again');
    allowed(t, await request(url, from('203.0.113.1')), 3, 1, 'counted again 2');
    allowed(t, await request(url, from('203.0.113.1')), 3, 0, 'counted again 3');
    limited(t, await request(url, from('203.0.113.1')), 3, 'refused again');
    samples = await metrics(gw.adminUrl);
    t.same(
      storeUp(samples).map((s) => s.value),
      [1],
    );
    t.equal(limitCount(samples, 'Orders', 'limited'), 1);
    const lines = storeLines(gw.logs);
    t.same(
      lines.map((l) => l.level),
      [INFO, WARN, INFO],
      'one line when it answers, one when it stops, one when it is back',
    );
    t.ok((await rateLimitsOf(gw.adminUrl))?.store.lastError !== undefined, 'the last error is kept after recovery');
  });

  t.test('Redis stops or freezes, onStoreError deny: 503 RATE_LIMIT_UNAVAILABLE at once, the backend never reached; Redis back: counting again', async (t) => {
    const redis = await startRedis(t);
    const backend = await startBackend(t);
    const store = `${redis.url}/0`;
    const gw = await startTestGateway(t, redisYaml(backend.url, store, 'deny'));
    const url = `${gw.url}/orders/v1/x`;
    await storeReachable(gw.adminUrl, true);
    allowed(t, await request(url, from('203.0.113.1')), 3, 2, 'counted in Redis');

    const refusedAtOnce = async (client: string, what: string) => {
      const { res, ms } = await timed(url, from(client));
      t.equal(res.status, 503, `${what}: 503`);
      if (res.status === 503) {
        t.equal(errorOf(res).code, 'RATE_LIMIT_UNAVAILABLE', what);
        t.match(errorOf(res).message, /API "Orders" version v1 is rate limited, and the store that counts its requests does not answer \(rateLimits\.onStoreError: deny\)/);
      }
      t.ok(ms < ANSWER_BOUND_MS, `${what}: answered at once (${ms.toFixed(0)} ms)`);
    };

    await redis.stop();
    await storeReachable(gw.adminUrl, false);
    for (let i = 1; i <= 3; i++) await refusedAtOnce('203.0.113.1', `stopped, request ${i}`);
    t.equal(backend.requests.length, 1, 'nothing reached the backend meanwhile');
    t.match(await gw.logs.waitFor((l) => l.code === 'RATE_LIMIT_STORE' && l.level === WARN), { msg: /are refused with 503 RATE_LIMIT_UNAVAILABLE \(rateLimits\.onStoreError: deny\)/ });
    const samples = await metrics(gw.adminUrl);
    t.equal(limitCount(samples, 'Orders', 'store_error_denied'), 3);
    t.equal(limitCount(samples, 'Orders', 'store_error_allowed'), 0);

    await redis.start();
    await storeReachable(gw.adminUrl, true);
    allowed(t, await request(url, from('203.0.113.1')), 3, 2, 'back: counted again');

    // Frozen: the connection stays open and nothing answers. The first requests wait the store's
    // bound; once the PINGs go unanswered the store is unreachable and requests are refused at once.
    redis.freeze();
    await refusedAtOnce('198.51.100.1', 'frozen, request 1');
    await refusedAtOnce('198.51.100.1', 'frozen, request 2');
    await storeReachable(gw.adminUrl, false);
    await refusedAtOnce('198.51.100.1', 'frozen and known unreachable');
    t.match((await rateLimitsOf(gw.adminUrl))?.store.lastError, { message: /\S/ });
    redis.thaw();
    await storeReachable(gw.adminUrl, true);
    // Another client: what the frozen Redis ran late counted 198.51.100.1's, never this one's.
    allowed(t, await request(url, from('192.0.2.1')), 3, 2, 'thawed: counted again');
    t.equal(backend.requests.length, 3);
    t.same(
      storeLines(gw.logs).map((l) => l.level),
      [INFO, WARN, INFO, WARN, INFO],
    );
  });

  t.test('a Redis password: counting works, and /status, the metrics and the log never show it; a wrong one is said without repeating it', async (t) => {
    const PASSWORD = 'pw-Zq81xK';
    const WRONG = 'wrong-Vb27Lm';
    const redis = await startRedis(t, ['--requirepass', PASSWORD]);
    const backend = await startBackend(t);
    const shown = `redis://127.0.0.1:${redis.port}/0`;
    const gw = await startTestGateway(t, redisYaml(backend.url, `redis://:${PASSWORD}@127.0.0.1:${redis.port}/0`, 'allow'));
    // The wrong one from a variable, as the documentation advises for a password.
    const wrong = await startTestGateway(t, redisYaml(backend.url, '${GATEHOUSE_REDIS_URL}', 'deny'), {}, { env: { GATEHOUSE_REDIS_URL: `redis://:${WRONG}@127.0.0.1:${redis.port}/0` } });
    await storeReachable(gw.adminUrl, true);
    const url = `${gw.url}/orders/v1/x`;
    allowed(t, await request(url), 3, 2, 'with the password');
    allowed(t, await request(url), 3, 1, 'with the password 2');
    allowed(t, await request(url), 3, 0, 'with the password 3');
    const refused = await request(url, { headers: { 'x-request-id': 'rl-pw-429' } });
    limited(t, refused, 3, 'over the limit');
    await gw.logs.request('rl-pw-429');

    await untilAsync(async () => (await rateLimitsOf(wrong.adminUrl))?.store.lastError !== undefined, 'the wrong password to be refused');
    const wrongStatus = await rateLimitsOf(wrong.adminUrl);
    t.match(wrongStatus, { store: { url: shown, reachable: false, lastError: { message: /WRONGPASS|invalid|auth/i } } });
    const deniedRes = await request(`${wrong.url}/orders/v1/x`, { headers: { 'x-request-id': 'rl-wrong-503' } });
    t.equal(deniedRes.status, 503);
    t.match(await wrong.logs.waitFor((l) => l.code === 'RATE_LIMIT_STORE'), { level: WARN, store: shown });
    await wrong.logs.request('rl-wrong-503');

    for (const [what, g, secret] of [
      ['the right password', gw, PASSWORD],
      ['the wrong password', wrong, WRONG],
    ] as const) {
      const status = await request(`${g.adminUrl}/status`);
      t.equal(json<{ rateLimits: RateLimitsStatus }>(status).rateLimits.store.url, shown, `${what}: /status shows the URL without it`);
      t.notMatch(status.text, secret, `${what}: not in /status`);
      const text = (await request(`${g.adminUrl}/metrics`)).text;
      t.match(text, `gatehouse_rate_limit_store_up{store="${shown}"}`, `${what}: the metric's label is the URL without it`);
      t.notMatch(text, secret, `${what}: not in /metrics`);
      t.ok(g.logs.lines.length > 0);
      t.notOk(g.logs.raw.some((line) => line.includes(secret)), `${what}: in no log line`);
    }
    t.notMatch(refused.text + deniedRes.text, new RegExp(`${PASSWORD}|${WRONG}`), 'nor in what clients get');
  });
});
