// The soak: `gatehouse run` in a child process, 64 keep-alive connections sending mixed
// traffic (GET, POST with bodies, SOAP, requests that fail on purpose) for 30 s, while the
// configuration and a certificate change every second. Every request sent must be answered with
// the status its kind expects, every 2xx body must be byte-exact, and the gateway's memory must
// come back to its baseline. SOAK_SECONDS shortens or lengthens the run.
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Client } from 'undici';
import { closedPort, startBackend } from '../helpers/backend.js';
import type { Echo } from '../helpers/backend.js';
import { request } from '../helpers/client.js';
import { createCA, issue } from '../helpers/pki.js';
import { GC_ON_SIGNAL, currentRss, spawnGateway } from '../helpers/process.js';
import { parsePrometheus, select } from '../helpers/prometheus.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 30);
const CONNECTIONS = 64;
const MiB = 1024 * 1024;

const ca = createCA('Soak CA', { keyIndex: 0 });
const otherCa = createCA('Soak CA 2', { keyIndex: 2 });
const leaf = issue({ cn: 'soak.test', sans: ['127.0.0.1'], issuer: ca, keyIndex: 1 });
const SOAP = Buffer.from(
  '<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><getQuote><symbol>GTH</symbol><note>café &amp; ü</note></getQuote></soapenv:Body></soapenv:Envelope>',
);

const config = (backend: string, dead: number, adminPort: number, generation: number) => `version: 1
listen: { http: "127.0.0.1:0" }
admin: { address: "127.0.0.1:${adminPort}" }
reload: { interval: 200ms }
apis:
  - { name: Shop, context: /shop, version: v1, endpoints: { production: { url: "${backend}/shop", certificate: shop-ca, timeouts: { socket: ${20 + (generation % 2)}s } } } }
  - { name: Soap, context: /soap, version: v1, endpoints: { production: { url: "${backend}/soap", certificate: [shop-ca, spare] } } }
  - { name: Later, context: /later, version: v1, endpoints: { production: { url: "${backend}/later", certificate: not-yet } } }
  - { name: Dead, context: /dead, version: v1, endpoints: { production: { url: "http://127.0.0.1:${dead}", timeouts: { connect: 2s } } } }
${generation % 3 === 0 ? `  - { name: Extra${generation}, context: /extra, version: v1, endpoints: { production: { url: "${backend}/extra", certificate: shop-ca } } }\n` : ''}`;

interface Tally {
  sent: number;
  answered: number;
  wrong: string[];
  byKind: Record<string, number>;
}

t.test(`soak: ${CONNECTIONS} connections for ${SECONDS} s of mixed traffic while files change every second`, { timeout: (SECONDS + 90) * 1000 }, async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const dead = await closedPort();
  const adminPort = await closedPort();
  const dir = t.testdir({ 'gateway.yaml': config(backend.url, dead, adminPort, 1), certs: { 'shop-ca.crt': ca.certPem, 'spare.crt': otherCa.certPem } });
  const gw = await spawnGateway(t, dir, [], GC_ON_SIGNAL);
  const pid = gw.child.pid!;
  // What is still referenced: a full collection in the child first (SIGUSR2), then its own figure.
  const heapUsed = async () => {
    gw.child.kill('SIGUSR2');
    await new Promise((r) => setTimeout(r, 500));
    return select(parsePrometheus((await request(`http://127.0.0.1:${adminPort}/metrics`)).text), 'nodejs_heap_size_used_bytes')[0]!.value;
  };

  const tally: Tally = { sent: 0, answered: 0, wrong: [], byKind: {} };
  const kinds = ['get', 'get', 'get', 'get', 'post', 'post', 'soap', 'soap', 'pending', 'dead', 'noroute'] as const;
  const clients = Array.from({ length: CONNECTIONS }, () => new Client(gw.url, { pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: 30_000, bodyTimeout: 30_000 }));
  t.teardown(() => Promise.all(clients.map((c) => c.destroy())));

  async function one(client: Client, n: number): Promise<void> {
    const kind = kinds[n % kinds.length]!;
    tally.sent++;
    tally.byKind[kind] = (tally.byKind[kind] ?? 0) + 1;
    const fail = (why: string) => tally.wrong.length < 20 && tally.wrong.push(`${kind}: ${why}`);
    try {
      if (kind === 'get' || kind === 'post' || kind === 'soap') {
        const body = kind === 'post' ? randomBytes(1 + (n % 64) * 1024) : kind === 'soap' ? SOAP : undefined;
        const res = await client.request({
          path: kind === 'soap' ? '/soap/v1/quote' : `/shop/v1/items/${n}`,
          method: body ? 'POST' : 'GET',
          headers: kind === 'soap' ? { 'content-type': 'text/xml; charset=UTF-8', soapaction: '"urn:getQuote"' } : {},
          ...(body ? { body } : {}),
        });
        const text = await res.body.text();
        tally.answered++;
        if (res.statusCode !== 200) return void fail(`status ${res.statusCode} ${text.slice(0, 200)}`);
        const echo = JSON.parse(text) as Echo;
        const expected = createHash('sha256').update(body ?? Buffer.alloc(0)).digest('hex');
        if (echo.sha256 !== expected || echo.bodyLength !== (body?.length ?? 0)) fail(`body changed on the way (${echo.bodyLength} bytes)`);
      } else {
        const res = await client.request({ path: kind === 'pending' ? '/later/v1/x' : kind === 'dead' ? '/dead/v1/x' : '/nowhere/v1/x', method: 'GET' });
        const text = await res.body.text();
        tally.answered++;
        const expected = { pending: [503, 'CERTIFICATE_PENDING'], dead: [502, 'BACKEND_UNREACHABLE'], noroute: [404, 'NO_ROUTE'] }[kind];
        if (res.statusCode !== expected[0] || !text.includes(`"${expected[1]}"`)) fail(`status ${res.statusCode} ${text.slice(0, 200)}`);
      }
    } catch (error) {
      fail(`no answer: ${(error as Error).message}`);
    }
  }

  async function drive(seconds: number): Promise<void> {
    const until = Date.now() + seconds * 1000;
    await Promise.all(
      clients.map(async (client, i) => {
        for (let n = i; Date.now() < until; n += CONNECTIONS) await one(client, n);
      }),
    );
  }

  // Warm up, then take the baseline.
  await drive(3);
  await new Promise((r) => setTimeout(r, 1_000));
  const baseline = { rss: currentRss(pid), heap: await heapUsed() };
  const warmup = tally.sent;

  // Files change every second: the configuration (a timeout flips, an API comes and goes) and a
  // certificate (a bundle that grows and shrinks), each change a new pool for the endpoints it touches.
  let generation = 1;
  const changes = setInterval(() => {
    generation++;
    writeFileSync(path.join(dir, 'gateway.yaml'), config(backend.url, dead, adminPort, generation));
    writeFileSync(path.join(dir, 'certs', 'spare.crt'), generation % 2 ? otherCa.certPem : otherCa.certPem + ca.certPem);
  }, 1_000);
  const soakStarted = Date.now();
  // In two halves: a leak grows with the requests served, so the second half adds as much as the
  // first; what the allocator keeps (glibc's arenas on Node 24 hold about 190 MiB more after the
  // first 15 s, then stay there: measured over 90 s) does not grow again.
  await drive(SECONDS / 2);
  const halfway = currentRss(pid);
  await drive(SECONDS / 2);
  clearInterval(changes);
  const soakSeconds = (Date.now() - soakStarted) / 1000;

  // Quiet, then the memory again.
  await new Promise((r) => setTimeout(r, 5_000));
  const after = { rss: currentRss(pid), heap: await heapUsed() };
  const applied = gw.logs.lines.filter((l) => l.msg === 'configuration applied').length;
  const rejections = gw.logs.lines.filter((l) => l.msg.startsWith('configuration rejected'));
  const rejected = rejections.length;

  const requests = tally.sent - warmup;
  t.comment(
    `soak: ${requests} requests in ${soakSeconds.toFixed(1)} s (${(requests / soakSeconds).toFixed(0)}/s) over ${CONNECTIONS} connections; by kind ${JSON.stringify(tally.byKind)}; ` +
      `${applied} reloads applied, ${rejected} rejected; RSS ${(baseline.rss / MiB).toFixed(1)} → ${(halfway / MiB).toFixed(1)} → ${(after.rss / MiB).toFixed(1)} MiB, heap used ${(baseline.heap / MiB).toFixed(1)} → ${(after.heap / MiB).toFixed(1)} MiB`,
  );
  t.equal(tally.answered, tally.sent, 'every request sent was answered');
  t.same(tally.wrong, [], 'every answer had the status its kind expects, and every 2xx body was byte-exact');
  t.ok(requests > 1_000, `a real load: ${requests} requests`);
  t.ok(applied >= SECONDS / 2, `the configuration changed under load: ${applied} reloads applied`);
  // Why, when one was, in the assertion's name (the part of a CI log that is always shown): seen
  // twice in some thousands of reloads, with the files written in place (writeFileSync empties a
  // file, then writes it), before a reload that read a file half-written learned to read it again.
  t.equal(rejected, 0, rejected ? `no reload was rejected: ${rejections.map((l) => JSON.stringify(l.errors)).join('; ')}` : 'no reload was rejected');
  t.ok(after.heap < baseline.heap + 16 * MiB, `heap used back near its baseline (${(baseline.heap / MiB).toFixed(1)} → ${(after.heap / MiB).toFixed(1)} MiB)`);
  t.ok(after.rss < halfway + 48 * MiB, `RSS does not grow with the requests: ${(halfway / MiB).toFixed(1)} MiB halfway, ${(after.rss / MiB).toFixed(1)} MiB at the end`);
  t.ok(after.rss < baseline.rss + 256 * MiB, `RSS within bounds of its baseline (${(baseline.rss / MiB).toFixed(1)} → ${(after.rss / MiB).toFixed(1)} MiB)`);
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0, 'and it stops cleanly');
});
