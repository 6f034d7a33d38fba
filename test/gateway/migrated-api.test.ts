// Issue 12's "done when", end to end as a user runs it: an API as WSO2 exports it (a load-balanced
// production endpoint, a failover sandbox endpoint, a backend that demands a client certificate)
// written in gateway.yaml, served by `gatehouse run` in a child process, with four HTTPS backends
// in child processes of their own, each with a certificate made at test time. Under load, one
// production backend and the sandbox's primary are killed (SIGKILL): no GET may fail.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { Test } from 'tap';
import { Client } from 'undici';
import { createCA, issue } from '../helpers/pki.js';
import type { Issued } from '../helpers/pki.js';
import { spawnGateway } from '../helpers/process.js';

const paymentsCA = createCA('Payments CA', { keyIndex: 0 });
const sandboxCA = createCA('Payments Sandbox CA', { keyIndex: 2 });
const clientCA = createCA('Partner Client CA', { keyIndex: 4 });
const productionLeaf = issue({ cn: 'payments.test', sans: ['127.0.0.1'], issuer: paymentsCA, keyIndex: 1 });
const sandboxLeaf = issue({ cn: 'sandbox.payments.test', sans: ['127.0.0.1'], issuer: sandboxCA, keyIndex: 3 });
const gatewayClient = issue({ cn: 'gatehouse-production', issuer: clientCA, keyIndex: 5, clientAuth: true });
const sandboxClient = issue({ cn: 'gatehouse-sandbox', issuer: clientCA, keyIndex: 6, clientAuth: true });

// A backend process: HTTPS, optionally demanding a client certificate issued by the CA given; it
// answers its name and the CN of the certificate the gateway presented ("-" when none).
const BACKEND = `
import { readFileSync } from 'node:fs';
import https from 'node:https';
const [name, cert, key, clientCa] = process.argv.slice(2);
const demand = clientCa ? { ca: readFileSync(clientCa), requestCert: true, rejectUnauthorized: true } : {};
const server = https.createServer({ cert: readFileSync(cert), key: readFileSync(key), ...demand }, (req, res) => {
  req.resume();
  const peer = req.socket.getPeerCertificate?.();
  res.end(name + ' ' + (peer?.subject?.CN ?? '-'));
});
server.on('tlsClientError', () => undefined);
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

interface BackendProcess {
  readonly url: string;
  kill(): Promise<void>;
}

/** A backend process started from `dir`/backend.mjs, its files in `dir`/backends. */
async function backendProcess(t: Test, dir: string, name: string, leaf: Issued, clientCa?: Issued): Promise<BackendProcess> {
  const files = { cert: path.join(dir, 'backends', `${name}.crt`), key: path.join(dir, 'backends', `${name}.key`), clientCa: path.join(dir, 'backends', `${name}-clients.crt`) };
  writeFileSync(files.cert, leaf.certPem);
  writeFileSync(files.key, leaf.keyPem);
  if (clientCa) writeFileSync(files.clientCa, clientCa.certPem);
  const child = spawn(process.execPath, [path.join(dir, 'backend.mjs'), name, files.cert, files.key, ...(clientCa ? [files.clientCa] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.teardown(() => void child.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('exit', (code) => reject(new Error(`backend ${name} exited (${code})`)));
  });
  return {
    url: `https://127.0.0.1:${port}`,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

t.test('a WSO2 API (load-balanced production, failover sandbox, a backend demanding a client certificate) served; killing backends under load fails no GET', { timeout: 60_000 }, async (t) => {
  const dir = t.testdir({ 'backend.mjs': BACKEND, backends: {} });
  const [prodA, prodB, sandboxPrimary, sandboxSecondary] = await Promise.all([
    backendProcess(t, dir, 'prod-a', productionLeaf, clientCA), // demands a client certificate
    backendProcess(t, dir, 'prod-b', productionLeaf),
    backendProcess(t, dir, 'sandbox-1', sandboxLeaf),
    backendProcess(t, dir, 'sandbox-2', sandboxLeaf, clientCA), // demands one too
  ]);

  // As a WSO2 user writes it from api.yaml's endpointConfig (docs/endpoints.md, "From WSO2").
  const gatewayYaml = `version: 1
listen: { http: "127.0.0.1:0" }
admin: { address: "127.0.0.1:0" }
apis:
  - name: Payments
    context: /payments
    version: 1.0.0
    endpoints:
      production:                       # endpoint_type: load_balance, algoCombo: RoundRobin
        balance: round-robin
        certificate: payments-ca
        clientCertificate: gateway-client   # both targets inherit it; prod-a demands it
        suspend: { initial: 30s, factor: 2, max: 5m }   # suspendDuration, factor, suspendMaxDuration
        targets:
          - { url: "${prodA.url}/pay" }
          - { url: "${prodB.url}/pay" }
      sandbox:                          # endpoint_type: failover
        balance: failover
        certificate: sandbox-ca
        targets:
          - { url: "${sandboxPrimary.url}/pay" }
          - { url: "${sandboxSecondary.url}/pay", clientCertificate: sandbox-client }
`;
  writeFileSync(path.join(dir, 'gateway.yaml'), gatewayYaml);
  const certs = {
    'payments-ca.crt': paymentsCA.certPem,
    'sandbox-ca.crt': sandboxCA.certPem,
    'gateway-client.crt': gatewayClient.certPem,
    'gateway-client.key': gatewayClient.keyPem,
    'sandbox-client.crt': sandboxClient.certPem,
    'sandbox-client.key': sandboxClient.keyPem,
  };
  mkdirSync(path.join(dir, 'certs'));
  for (const [name, text] of Object.entries(certs)) writeFileSync(path.join(dir, 'certs', name), text, { mode: 0o600 });
  const gw = await spawnGateway(t, dir);

  const seen = { production: [] as string[], sandbox: [] as string[] };
  const failures: string[] = [];
  // Answered before the kill began, or sent after both backends were gone: the requests in
  // between (in flight during the kill, retried) may be answered by either side.
  let killStarted = Infinity;
  let killDone = Infinity;
  let stop = false;
  const client = async (role: 'production' | 'sandbox') => {
    const connection = new Client(gw.url, { pipelining: 1 });
    try {
      while (!stop) {
        const sent = performance.now();
        try {
          const res = await connection.request({ path: '/payments/1.0.0/charges/1', method: 'GET', headers: role === 'sandbox' ? { 'x-gatehouse-environment': 'sandbox' } : {} });
          const text = await res.body.text();
          const answered = performance.now();
          const when = answered < killStarted ? 'before' : sent > killDone ? 'after' : 'during';
          if (res.statusCode === 200) seen[role].push(`${when} ${text}`);
          else failures.push(`${role}: ${res.statusCode} ${text}`);
        } catch (error) {
          failures.push(`${role}: no answer (${(error as Error).message})`);
        }
      }
    } finally {
      await connection.close();
    }
  };
  const clients = [...Array.from({ length: 6 }, () => client('production')), ...Array.from({ length: 3 }, () => client('sandbox'))];
  await sleep(1_000);
  killStarted = performance.now();
  await Promise.all([prodA.kill(), sandboxPrimary.kill()]);
  killDone = performance.now();
  await sleep(1_500);
  stop = true;
  await Promise.all(clients);

  const count = (list: string[], entry: string) => list.filter((s) => s === entry).length;
  t.same(failures, [], 'no GET failed while prod-a and sandbox-1 were killed');
  t.ok(seen.production.length > 100 && seen.sandbox.length > 50, `a real load: ${seen.production.length} production and ${seen.sandbox.length} sandbox GETs`);
  t.ok(count(seen.production, 'before prod-a gatehouse-production') > 0, 'prod-a answered, having verified the client certificate the production endpoint gives all its targets');
  // A certificate is presented only to a server that asks for one (TLS's CertificateRequest): prod-b does not.
  t.ok(count(seen.production, 'before prod-b -') > 0, 'prod-b answered: round-robin over both');
  t.equal(seen.production.filter((s) => s.startsWith('after prod-a')).length, 0, 'nothing sent after the kill reached prod-a');
  t.ok(count(seen.production, 'after prod-b -') > 0, 'prod-b took the production load');
  t.ok(count(seen.sandbox, 'before sandbox-1 -') > 0, 'the sandbox primary answered first');
  t.equal(seen.sandbox.filter((s) => s.startsWith('before sandbox-2')).length, 0, 'the secondary had no traffic while the primary was up');
  t.ok(count(seen.sandbox, 'after sandbox-2 gatehouse-sandbox') > 0, 'the sandbox failed over to sandbox-2, which verified its own client certificate');

  const retried = gw.logs.lines.filter((l) => l.retriedAfter !== undefined).length;
  t.comment(`${seen.production.length} production and ${seen.sandbox.length} sandbox GETs; access lines naming a retry: ${retried}`);
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0, 'the gateway stops cleanly');
});
