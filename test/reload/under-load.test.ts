// Under steady load a reload loses no request and returns no 5xx the backend did not send
// (docs/reload.md): 32 keep-alive clients for several seconds while a dozen reloads are applied, some
// replacing the loaded endpoint's pool (new trust, new timeouts), some touching other endpoints
// or the route table only.
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import t from 'tap';
import { startBackend } from '../helpers/backend.js';
import { nextReload, startTestGateway } from '../helpers/gateway.js';
import { createCA, issue } from '../helpers/pki.js';

const ca = createCA('Load Test CA', { keyIndex: 0 });
const spare = createCA('Load Test Spare CA', { keyIndex: 2 });
const leaf = issue({ cn: 'load.test', sans: ['127.0.0.1'], issuer: ca, keyIndex: 1 });

const CLIENTS = 32;

t.test('32 keep-alive clients, 12 reloads: no failed request, no 5xx', async (t) => {
  const loaded = await startBackend(t, { certificate: leaf });
  const other = await startBackend(t, { certificate: leaf });
  const variant = (i: number) => {
    const trust = i % 4 === 1 ? '[ca, spare]' : 'ca'; // replaces the loaded endpoint's pool
    const socket = i % 4 === 2 ? '31s' : '30s'; // replaces it too
    const otherSocket = i % 4 === 3 ? '21s' : '20s'; // another endpoint only
    const extra = i % 2 === 0 ? '' : `  - { name: Extra${i}, context: /extra${i}, version: v1, endpoints: { production: { url: "${other.url}", certificate: ca } } }\n`;
    return `version: 1
listen: { http: "127.0.0.1:0" }
admin: { address: "127.0.0.1:0" }
reload: { interval: 10m }
apis:
  - { name: Load, context: /load, version: v1, endpoints: { production: { url: "${loaded.url}", certificate: ${trust}, timeouts: { socket: ${socket} } } } }
  - { name: Other, context: /other, version: v1, endpoints: { production: { url: "${other.url}", certificate: ca, timeouts: { socket: ${otherSocket} } } } }
${extra}`;
  };
  const gw = await startTestGateway(t, variant(0), { certs: { 'ca.crt': ca.certPem, 'spare.crt': spare.certPem } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  t.teardown(() => agent.destroy());

  const statuses = new Map<number, number>();
  const failures: string[] = [];
  let running = true;
  const client = async (n: number): Promise<void> => {
    let i = 0;
    while (running) {
      const post = (i++ + n) % 3 === 0;
      await new Promise<void>((resolve) => {
        const req = http.request(`${gw.url}/load/v1/item/${n}`, { method: post ? 'POST' : 'GET', agent, headers: post ? { 'content-type': 'text/plain' } : {} }, (res) => {
          res.resume();
          res.on('end', () => {
            statuses.set(res.statusCode!, (statuses.get(res.statusCode!) ?? 0) + 1);
            resolve();
          });
          res.on('error', (e) => {
            failures.push(`response: ${e.message}`);
            resolve();
          });
        });
        req.on('error', (e) => {
          failures.push(`request: ${e.message}`);
          resolve();
        });
        req.end(post ? `body of client ${n}` : undefined);
      });
    }
  };
  const clients = Array.from({ length: CLIENTS }, (_, n) => client(n));

  const file = path.join(gw.dir, 'gateway.yaml');
  const outcomes = [];
  const started = Date.now();
  for (let i = 1; i <= 12; i++) {
    await new Promise((r) => setTimeout(r, 250));
    writeFileSync(file, variant(i));
    const applied = nextReload(gw.gateway, 'applied', 20_000);
    void gw.gateway.reloader.reloadNow('test');
    outcomes.push(await applied);
  }
  await new Promise((r) => setTimeout(r, 250));
  running = false;
  await Promise.all(clients);
  const seconds = (Date.now() - started) / 1000;

  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  t.comment(`${total} requests in ${seconds.toFixed(1)} s across ${outcomes.length} reloads; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  t.same(failures, [], 'no request failed');
  t.same([...statuses.keys()], [200], 'every response was the backend\'s 200');
  t.ok(total > 500, `steady load (${total} requests)`);
  t.equal(outcomes.length, 12, 'twelve reloads applied');
  t.ok(outcomes.filter((o) => o.changes.endpoints.changed.some((c) => c.name === 'Load v1 production')).length >= 6, "half of them replaced the loaded endpoint's pool");
  t.ok(outcomes.filter((o) => !o.changes.endpoints.changed.some((c) => c.name === 'Load v1 production')).length >= 3, 'others left it alone');
  t.equal(gw.gateway.holder.current.generation, 13);
  t.equal(loaded.requests.length, total, 'the backend saw every request once');
});
