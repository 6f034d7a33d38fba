// Endpoint groups (SPEC §8, docs/endpoints.md), against real HTTPS backends on 127.0.0.1 with
// certificates made at test time: round-robin by weight, each target's own trust, failover and
// return, WSO2's suspension timeline measured by a backend's connection count, 5xx never
// suspends, health checks, retries of idempotent requests only, 503 NO_BACKEND_AVAILABLE.
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import type { StatusDocument } from '../../src/admin/status.js';
import { startBackend } from '../helpers/backend.js';
import type { Backend } from '../helpers/backend.js';
import { json, request } from '../helpers/client.js';
import { apiConfig, startTestGateway } from '../helpers/gateway.js';
import { createCA, issue } from '../helpers/pki.js';
import type { Issued } from '../helpers/pki.js';
import { parsePrometheus, select } from '../helpers/prometheus.js';
import { until } from '../helpers/wait.js';

const caA = createCA('Groups Test CA A', { keyIndex: 0 });
const caB = createCA('Groups Test CA B', { keyIndex: 2 });
const leafA = issue({ cn: 'a.test', sans: ['127.0.0.1'], issuer: caA, keyIndex: 1 });
const leafB = issue({ cn: 'b.test', sans: ['127.0.0.1'], issuer: caB, keyIndex: 3 });
const CERTS = { certs: { 'ca-a.crt': caA.certPem, 'ca-b.crt': caB.certPem } };

interface ErrorBody {
  error: { code: string; message: string; requestId: string };
}

/** An HTTPS backend that answers its name, and can be stopped and started again on the same port. */
async function namedBackend(t: Test, name: string, certificate: Issued, handler?: (req: IncomingMessage, res: ServerResponse) => void) {
  const sockets = new Set<net.Socket>();
  const server = https.createServer({ key: certificate.keyPem, cert: certificate.certPem }, (req, res) => {
    if (handler) return handler(req, res);
    req.resume();
    res.end(name);
  });
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return {
    url: `https://127.0.0.1:${port}`,
    async stop() {
      server.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => setImmediate(resolve));
    },
    async start() {
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
  };
}

/** A TCP server that resets every connection at once (a transport failure), recording when each came. */
async function resettingServer(t: Test): Promise<{ url: string; connections: number[] }> {
  const connections: number[] = [];
  const server = net.createServer((socket) => {
    connections.push(performance.now());
    socket.on('error', () => undefined);
    socket.resetAndDestroy();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, connections };
}

const group = (targets: string, extra = '') => `{ ${extra}targets: [${targets}] }`;

t.test('round-robin by weight: 1 and 2 take a third and two thirds, interleaved', async (t) => {
  const a = await namedBackend(t, 'a', leafA);
  const b = await namedBackend(t, 'b', leafB);
  const gw = await startTestGateway(t, apiConfig(group(`{ url: "${a.url}", certificate: ca-a }, { url: "${b.url}", certificate: ca-b, weight: 2 }`)), CERTS);
  const served: string[] = [];
  for (let i = 0; i < 30; i++) served.push((await request(`${gw.url}/api/v1/x`)).text);
  t.equal(served.filter((s) => s === 'a').length, 10);
  t.equal(served.filter((s) => s === 'b').length, 20);
  t.same(served.slice(0, 6), ['b', 'a', 'b', 'b', 'a', 'b'], "nginx's smooth weighted round-robin: never three of b in a row");
  const scrape = parsePrometheus((await request(`${gw.adminUrl}/metrics`)).text);
  t.equal(select(scrape, 'gatehouse_target_requests_total', { target: a.url })[0]?.value, 10);
  t.equal(select(scrape, 'gatehouse_target_requests_total', { target: b.url })[0]?.value, 20);
  t.equal(select(scrape, 'gatehouse_target_available', { target: b.url })[0]?.value, 1);
});

t.test("each target trusts its own certificate only: A's never vouches for B", async (t) => {
  const a = await namedBackend(t, 'a', leafA);
  const b = await namedBackend(t, 'b', leafB);
  // Target 2 trusts CA A, whose certificate B's does not come from; target 1 inherits the endpoint's.
  const gw = await startTestGateway(t, apiConfig(group(`{ url: "${a.url}" }, { url: "${b.url}", certificate: ca-a }`, 'certificate: ca-a, suspend: { initial: 1m }, ')), CERTS);
  const post = await request(`${gw.url}/api/v1/x`, { method: 'POST', body: 'x', headers: { 'x-request-id': 'iso-1' } });
  const first = await request(`${gw.url}/api/v1/x`);
  // Round-robin goes a, b: the POST went to a. The GET to b failed its handshake, b is suspended, and the GET was served by a.
  t.equal(post.text, 'a');
  t.equal(first.status, 200);
  t.equal(first.text, 'a', 'the GET refused by b was retried on a');
  for (let i = 0; i < 4; i++) t.equal((await request(`${gw.url}/api/v1/x`)).text, 'a', 'b stays suspended');
  const status = json<StatusDocument>(await request(`${gw.adminUrl}/status`));
  const production = status.apis[0]!.endpoints.production as Extract<StatusDocument['apis'][number]['endpoints']['production'], { targets: unknown }>;
  t.equal(production.state, 'ready');
  t.match(production.targets[1], { url: b.url, state: 'suspended', failures: 1, reason: /^BACKEND_TLS_UNTRUSTED/ });
  t.match(production.targets[0], { url: a.url, state: 'available', certificates: ['ca-a'] }, 'the endpoint certificate is inherited');
});

t.test('failover: the first available target, and back to it once it is available again', async (t) => {
  const a = await namedBackend(t, 'a', leafA);
  const b = await namedBackend(t, 'b', leafB);
  const gw = await startTestGateway(t, apiConfig(group(`{ url: "${a.url}", certificate: ca-a }, { url: "${b.url}", certificate: ca-b }`, 'balance: failover, suspend: { initial: 300ms, factor: 1, max: 300ms }, ')), CERTS);
  for (let i = 0; i < 3; i++) t.equal((await request(`${gw.url}/api/v1/x`)).text, 'a');
  await a.stop();
  const during = await request(`${gw.url}/api/v1/x`, { headers: { 'x-request-id': 'failover-1' } });
  t.equal(during.text, 'b', 'the GET that found a gone was sent to b');
  t.match((await gw.logs.request('failover-1')).retriedAfter, { target: 'Test v1 production target 1', code: 'BACKEND_UNREACHABLE' });
  t.equal((await request(`${gw.url}/api/v1/x`)).text, 'b');
  await a.start();
  await sleep(400); // the 300 ms suspension ends
  t.equal((await request(`${gw.url}/api/v1/x`)).text, 'a', 'back to the first as soon as it is available');
});

t.test("suspension follows WSO2's timeline: initial, x factor per consecutive failure, at most max", async (t) => {
  const dead = await resettingServer(t);
  const b = await namedBackend(t, 'b', leafB);
  const gw = await startTestGateway(t, apiConfig(group(`{ url: "${dead.url}" }, { url: "${b.url}", certificate: ca-b }`, 'certificate: ca-a, suspend: { initial: 200ms, factor: 2, max: 800ms }, ')), CERTS);
  const started = performance.now();
  let failed = 0;
  while (performance.now() - started < 3_200) {
    const res = await request(`${gw.url}/api/v1/x`);
    if (res.status !== 200 || res.text !== 'b') failed++;
  }
  t.equal(failed, 0, 'every GET was served: those that met the dead target were retried on b');
  const gaps = dead.connections.slice(1).map((at, i) => at - dead.connections[i]!);
  t.ok(dead.connections.length >= 4 && dead.connections.length <= 7, `the dead target was tried ${dead.connections.length} times in 3.2 s, not once per request`);
  // 200, 400, 800, 800...: each gap at least the suspension (a little slack for the timer's granularity).
  const expected = [200, 400, 800, 800, 800, 800];
  gaps.forEach((gap, i) => t.ok(gap >= expected[i]! - 5, `gap ${i + 1}: ${Math.round(gap)} ms >= ${expected[i]} ms`));
  const scrape = parsePrometheus((await request(`${gw.adminUrl}/metrics`)).text);
  t.equal(select(scrape, 'gatehouse_target_transport_failures_total', { target: dead.url })[0]?.value, dead.connections.length);
});

t.test('an HTTP 5xx is an answer, not a failure: passed to the client, the target never suspended', async (t) => {
  const a = await namedBackend(t, 'a', leafA, (req, res) => {
    req.resume();
    res.writeHead(500).end('a broke');
  });
  const b = await namedBackend(t, 'b', leafB);
  const gw = await startTestGateway(t, apiConfig(group(`{ url: "${a.url}", certificate: ca-a }, { url: "${b.url}", certificate: ca-b }`)), CERTS);
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++) statuses.push((await request(`${gw.url}/api/v1/x`)).status);
  t.same(statuses, [500, 200, 500, 200, 500, 200, 500, 200, 500, 200]);
});

t.test('health checks take a failing target out and bring it back', async (t) => {
  let healthy = true;
  const a = await namedBackend(t, 'a', leafA, (req, res) => {
    req.resume();
    if (req.url === '/health') res.writeHead(healthy ? 200 : 503).end();
    else res.end('a');
  });
  const b = await namedBackend(t, 'b', leafB);
  const gw = await startTestGateway(
    t,
    apiConfig(group(`{ url: "${a.url}/api", certificate: ca-a }, { url: "${b.url}", certificate: ca-b }`, 'healthCheck: { path: /health, interval: 100ms, timeout: 50ms }, suspend: { initial: 1h, max: 1h }, ')),
    CERTS,
  );
  const served = async (n: number) => {
    const out = new Set<string>();
    for (let i = 0; i < n; i++) out.add((await request(`${gw.url}/api/v1/x`)).text);
    return [...out].sort();
  };
  t.same(await served(4), ['a', 'b']);
  healthy = false;
  await gw.logs.waitFor((l) => l.msg === 'health check failed: the target is suspended');
  t.same(await served(6), ['b'], 'a failed its check: no request goes to it');
  healthy = true;
  await gw.logs.waitFor((l) => l.msg === 'health check passed: the target is available again');
  t.same(await served(4), ['a', 'b'], 'a passed its check: back at once, though its suspension was an hour');
});

t.test('a POST is never retried; a GET is, once', async (t) => {
  const dead = await resettingServer(t);
  const b: Backend = await startBackend(t, { certificate: leafB });
  const gw = await startTestGateway(t, apiConfig(group(`{ url: "${dead.url}" }, { url: "${b.url}", certificate: ca-b }`, 'certificate: ca-a, suspend: { initial: 1ms, factor: 1, max: 1ms }, ')), CERTS);
  const post = await request(`${gw.url}/api/v1/order`, { method: 'POST', body: '{"pizza":1}', headers: { 'x-request-id': 'post-1' } });
  t.equal(post.status, 502, 'the POST met the dead target: its body may have been taken');
  t.equal(json<ErrorBody>(post).error.code, 'BACKEND_UNREACHABLE');
  t.match(json<ErrorBody>(post).error.message, /target 1: the backend is unreachable/);
  t.equal(b.requests.filter((r) => r.method === 'POST').length, 0, 'and was not sent again');
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    await sleep(3); // past the 1 ms suspension: the dead target is picked again in its turn
    statuses.push((await request(`${gw.url}/api/v1/order`)).status);
  }
  t.same(statuses, [200, 200, 200, 200, 200, 200], 'each GET that met the dead target was sent to b');
  t.ok(dead.connections.length >= 2, `GETs met the dead target too (${dead.connections.length} connections)`);
  t.equal(b.requests.filter((r) => r.method === 'GET').length, 6);
});

t.test('every target down: 503 NO_BACKEND_AVAILABLE, the log line says why each is out', async (t) => {
  const dead1 = await resettingServer(t);
  const dead2 = await resettingServer(t);
  const gw = await startTestGateway(t, apiConfig(group(`{ url: "${dead1.url}" }, { url: "${dead2.url}" }`, 'certificate: ca-a, suspend: { initial: 1m }, ')), CERTS);
  const first = await request(`${gw.url}/api/v1/x`);
  t.equal(first.status, 502, 'the first GET met both dead targets (tried, then retried): the failure is the answer');
  const res = await request(`${gw.url}/api/v1/x`, { headers: { 'x-request-id': 'none-1' } });
  t.equal(res.status, 503);
  t.same(json<ErrorBody>(res).error, {
    code: 'NO_BACKEND_AVAILABLE',
    message: 'API "Test" version v1, production endpoint: no backend is available (every target is suspended or waits for its certificate)',
    requestId: 'none-1',
  });
  const line = await gw.logs.request('none-1');
  t.match(line.targets, [
    { url: dead1.url, state: 'suspended', failures: 1, reason: /^BACKEND_UNREACHABLE/ },
    { url: dead2.url, state: 'suspended', failures: 1, reason: /^BACKEND_UNREACHABLE/ },
  ]);
  t.equal(dead1.connections.length + dead2.connections.length, 2, 'no connection while suspended');
});

t.test('a target waiting for its certificate is left out; the others serve', async (t) => {
  const b = await namedBackend(t, 'b', leafB);
  const gw = await startTestGateway(t, apiConfig(group(`{ url: "https://127.0.0.1:1", certificate: not-yet }, { url: "${b.url}", certificate: ca-b }`)), CERTS);
  for (let i = 0; i < 3; i++) t.equal((await request(`${gw.url}/api/v1/x`)).text, 'b');
  const status = json<StatusDocument>(await request(`${gw.adminUrl}/status`));
  t.match(status.apis[0]!.endpoints.production, { state: 'ready', targets: [{ state: 'pending-certificate', pendingCertificates: ['not-yet'] }, { state: 'available' }] });
});

t.test('a load-balanced production and a failover sandbox: killing a backend under load fails no idempotent request', async (t) => {
  const [a, b, c, d] = await Promise.all([namedBackend(t, 'a', leafA), namedBackend(t, 'b', leafB), namedBackend(t, 'c', leafA), namedBackend(t, 'd', leafB)]);
  const config = `version: 1
apis:
  - name: Orders
    context: /orders
    version: v1
    endpoints:
      production:
        targets:
          - { url: "${a.url}", certificate: ca-a }
          - { url: "${b.url}", certificate: ca-b }
      sandbox:
        balance: failover
        targets:
          - { url: "${c.url}", certificate: ca-a }
          - { url: "${d.url}", certificate: ca-b }
`;
  const gw = await startTestGateway(t, config, CERTS);
  const seen = { production: new Set<string>(), sandbox: new Set<string>() };
  const failures: string[] = [];
  let stop = false;
  const client = async (role: 'production' | 'sandbox') => {
    while (!stop) {
      const res = await request(`${gw.url}/orders/v1/item`, role === 'sandbox' ? { headers: { 'x-gatehouse-environment': 'sandbox' } } : {}).catch((error: Error) => ({ status: 0, text: error.message }));
      if (res.status === 200) seen[role].add(res.text);
      else failures.push(`${role}: ${res.status} ${res.text}`);
    }
  };
  const clients = [...Array.from({ length: 4 }, () => client('production')), ...Array.from({ length: 2 }, () => client('sandbox'))];
  await sleep(300);
  await Promise.all([a.stop(), c.stop()]);
  await sleep(500);
  stop = true;
  await Promise.all(clients);
  t.same(failures, [], 'no GET failed while a and c went away');
  t.same([...seen.production].sort(), ['a', 'b']);
  t.same([...seen.sandbox].sort(), ['c', 'd'], 'the sandbox failed over from c to d');
  const routed = await request(`${gw.url}/orders/v1/item`, { headers: { 'x-gatehouse-environment': 'sandbox' } });
  t.equal(routed.text, 'd');
});

t.test('a reload that changes one target keeps the other target, its connections and its suspension', async (t) => {
  const dead = await resettingServer(t);
  const b = await namedBackend(t, 'b', leafB);
  const b2 = await namedBackend(t, 'b2', leafB);
  const yaml = (second: string) => apiConfig(group(`{ url: "${dead.url}", certificate: ca-a }, { url: "${second}", certificate: ca-b }`, 'suspend: { initial: 1h, max: 1h }, '), '', 'listen: { http: "127.0.0.1:0" }\nadmin: { address: "127.0.0.1:0" }\nreload: { interval: 1h }\n');
  const gw = await startTestGateway(t, yaml(b.url), CERTS);
  t.equal((await request(`${gw.url}/api/v1/x`)).text, 'b', 'the dead target failed, the GET went to b');
  t.equal(dead.connections.length, 1);
  writeFileSync(path.join(gw.dir, 'gateway.yaml'), yaml(b2.url));
  const applied = await gw.gateway.reloader.reloadNow('test');
  if (applied.kind !== 'applied') return t.fail(JSON.stringify(applied));
  t.same(applied.pools, { kept: 1, opened: 1, retired: 1 }, "the dead target's pool is kept, b's retired, b2's opened");
  for (let i = 0; i < 3; i++) t.equal((await request(`${gw.url}/api/v1/x`)).text, 'b2');
  t.equal(dead.connections.length, 1, 'the kept target is still suspended: not tried again');
});

t.test('a retry that crosses a reload goes to a target of the configuration served now', async (t) => {
  // The primary accepts the connection and holds it; it resets it only once the reload is applied.
  const held: net.Socket[] = [];
  const holding = net.createServer((socket) => {
    socket.on('error', () => undefined);
    held.push(socket);
  });
  holding.listen(0, '127.0.0.1');
  await once(holding, 'listening');
  t.teardown(() => holding.close());
  const primary = `https://127.0.0.1:${(holding.address() as AddressInfo).port}`;
  const b = await namedBackend(t, 'b', leafB);
  const b2 = await namedBackend(t, 'b2', leafB);
  const yaml = (second: string) =>
    apiConfig(group(`{ url: "${primary}", certificate: ca-a }, { url: "${second}", certificate: ca-b }`, 'balance: failover, '), '', 'listen: { http: "127.0.0.1:0" }\nadmin: { address: "127.0.0.1:0" }\nreload: { interval: 1h }\n');
  const gw = await startTestGateway(t, yaml(b.url), CERTS);
  const answer = request(`${gw.url}/api/v1/x`, { headers: { 'x-request-id': 'across-1' } });
  await until(() => held.length === 1, 'the GET reached the primary', 5_000);
  // While the GET waits on the primary, the secondary is replaced.
  writeFileSync(path.join(gw.dir, 'gateway.yaml'), yaml(b2.url));
  const applied = await gw.gateway.reloader.reloadNow('test');
  t.equal(applied.kind, 'applied', 'the reload is applied while the GET is in flight');
  held[0]!.resetAndDestroy();
  const res = await answer;
  t.equal(res.status, 200);
  t.equal(res.text, 'b2', 'the retry went to the secondary of the configuration served now, not to the retired one');
  t.match((await gw.logs.request('across-1')).retriedAfter, { target: 'Test v1 production target 1' });
  t.equal((await request(`${gw.url}/api/v1/x`)).text, 'b2');
  t.equal(held.length, 1, 'the primary is suspended in the configuration served now too: the next GET does not try it');
});
