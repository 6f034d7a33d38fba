// `gatehouse run` as a user runs it: a child process, real signals, real memory.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import https from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import t from 'tap';
import { startBackend } from '../helpers/backend.js';
import { BIN, runCli } from '../helpers/cli.js';
import { request } from '../helpers/client.js';
import { currentRss, peakRss, spawnGateway } from '../helpers/process.js';
import { issue, pkcs12 } from '../helpers/pki.js';
import { until } from '../helpers/wait.js';

const config = (url: string, extra = '') => `version: 1
listen: { http: "127.0.0.1:0", shutdownDelay: 0, shutdownTimeout: 10s }
admin: { address: "127.0.0.1:0" }
${extra}apis:
  - { name: Test, context: /api, version: v1, endpoints: { production: { url: "${url}" } } }
`;

t.test('a configuration with errors does not start: exit 1 with the same text as validate', async (t) => {
  const dir = t.testdir({ 'gateway.yaml': 'version: 1\nlisten: { htp: 1 }\napis: []\n' });
  const run = await runCli(['run'], { cwd: dir });
  const validate = await runCli(['validate'], { cwd: dir });
  t.equal(run.code, 1);
  t.equal(run.stdout, '', 'nothing was logged: nothing started');
  const errors = validate.stdout.split('\n').filter((l) => l.includes('[CONFIG_'));
  t.equal(errors.length, 1);
  t.match(run.stderr, errors[0]!, 'the same error text as validate');
  t.match(run.stderr, /gatehouse run: gateway\.yaml has errors; nothing started\n$/);
});

t.test('an address in use: which listener, which address, the line, what to do; no stack trace', async (t) => {
  const taken = net.createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  t.teardown(() => taken.close());
  const port = (taken.address() as AddressInfo).port;
  const dir = t.testdir({ 'gateway.yaml': `version: 1\nlisten:\n  http: "127.0.0.1:${port}"\nadmin: { address: "127.0.0.1:0" }\napis: []\n` });
  const run = await runCli(['run'], { cwd: dir });
  t.equal(run.code, 1);
  t.equal(
    run.stderr,
    `gateway.yaml:3:9  listen.http: the HTTP listener cannot listen on 127.0.0.1:${port}: the address is already in use by another process: stop it (\`ss -ltnp 'sport = :${port}'\` shows which), or set listen.http to a free port  [LISTEN_FAILED]\n` +
      'gatehouse run: gateway.yaml has errors; nothing started\n',
  );
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');

  // A default address (not in the file) is named without a line.
  const admin = t.testdir({ 'gateway.yaml': `version: 1\nlisten: { http: "127.0.0.1:0" }\nadmin: { address: "127.0.0.1:${port}", token: x }\napis: []\n` });
  const adminRun = await runCli(['run'], { cwd: admin });
  t.equal(adminRun.code, 1);
  t.match(adminRun.stderr, new RegExp(`^gateway\\.yaml:3:\\d+  admin\\.address: the admin address cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use`));
  const bare = t.testdir({ 'gateway.yaml': `version: 1\nlisten: { http: ${port} }\nadmin: { address: "127.0.0.1:0" }\napis: []\n` });
  t.match((await runCli(['run'], { cwd: bare })).stderr, new RegExp(`listen\\.http: the HTTP listener cannot listen on 0\\.0\\.0\\.0:${port}`));
});

t.test('gatehouse with no command runs the gateway', async (t) => {
  const backend = await startBackend(t);
  const dir = t.testdir({ 'gateway.yaml': config(backend.url) });
  const gw = await spawnGateway(t, dir, []);
  t.equal((await request(`${gw.url}/api/v1/`)).status, 200);
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0);
});

t.test('SIGTERM: stop accepting, finish the request in flight, exit 0', async (t) => {
  let release: (() => void) | undefined;
  const backend = await startBackend(t, {
    handler: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('started ');
      release = () => res.end('and finished');
    },
  });
  const dir = t.testdir({ 'gateway.yaml': config(backend.url) });
  const gw = await spawnGateway(t, dir);
  const inFlight = request(`${gw.url}/api/v1/slow`);
  await until(() => release !== undefined, 'the backend to receive the request');
  gw.child.kill('SIGTERM');
  await gw.logs.waitFor((l) => l.msg.startsWith('stopping'));
  const refused = await request(`${gw.url}/api/v1/`).then(
    () => 'accepted',
    (e: NodeJS.ErrnoException) => e.code,
  );
  t.equal(refused, 'ECONNREFUSED', 'no new connection is accepted once stopping');
  release!();
  const res = await inFlight;
  t.equal(res.status, 200);
  t.equal(res.text, 'started and finished', 'the request in flight finished whole');
  t.equal(await gw.exited, 0);
  t.ok(gw.logs.find((l) => l.msg === 'stopped'));
});

t.test('SIGTERM with listen.shutdownDelay: /readyz 503 at once, connections still accepted for the delay, then refused, exit 0', async (t) => {
  const backend = await startBackend(t);
  const dir = t.testdir({ 'gateway.yaml': config(backend.url).replace('shutdownDelay: 0', 'shutdownDelay: 1500ms') });
  const gw = await spawnGateway(t, dir);
  const agent = new http.Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  t.equal((await request(`${gw.adminUrl}/readyz`)).status, 200);
  t.equal((await request(`${gw.url}/api/v1/`, { agent })).headers.connection, 'keep-alive', 'before: connections are kept alive');
  gw.child.kill('SIGTERM');
  const announced = await gw.logs.waitFor((l) => l.msg.startsWith('stopping: /readyz answers 503'));
  t.equal(announced.delayMs, 1500);
  const readyz = await request(`${gw.adminUrl}/readyz`);
  t.equal(readyz.status, 503, '/readyz says so at once');
  const during = await request(`${gw.url}/api/v1/`, { agent });
  t.equal(during.status, 200, 'a request sent during the delay (a load balancer not yet updated) is served');
  t.equal(during.headers.connection, 'close', 'and its connection closes, so that the client reconnects elsewhere');
  t.equal((await request(`${gw.url}/api/v1/`)).status, 200, 'a new connection during the delay is accepted');
  await gw.logs.waitFor((l) => l.msg.startsWith('stopping: no new connections'));
  const refused = await request(`${gw.url}/api/v1/`).then(
    () => 'accepted',
    (e: NodeJS.ErrnoException) => e.code,
  );
  t.equal(refused, 'ECONNREFUSED', 'after the delay, no new connection');
  t.equal(await gw.exited, 0);
  const messages = gw.logs.lines.map((l) => l.msg);
  t.ok(messages.indexOf('signal received') < messages.findIndex((m) => m.startsWith('stopping: /readyz')), 'the timeline is logged in order');
  t.ok(messages.findIndex((m) => m.startsWith('stopping: no new connections')) < messages.indexOf('stopped'));
});

t.test('while draining: SIGHUP is ignored, the response in flight says Connection: close', async (t) => {
  let release: (() => void) | undefined;
  const backend = await startBackend(t, { handler: (_req, res) => (release = () => res.end('finished')) });
  const dir = t.testdir({ 'gateway.yaml': config(backend.url) });
  const gw = await spawnGateway(t, dir);
  const agent = new http.Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  const inFlight = request(`${gw.url}/api/v1/slow`, { agent });
  await until(() => release !== undefined, 'the backend to receive the request');
  gw.child.kill('SIGTERM');
  await gw.logs.waitFor((l) => l.msg.startsWith('stopping: no new connections'));
  gw.child.kill('SIGHUP');
  await gw.logs.waitFor((l) => l.msg === 'stopping: SIGHUP ignored (no reload while requests drain)');
  t.equal(gw.child.exitCode, null, 'still running: SIGHUP killed nothing');
  release!();
  const res = await inFlight;
  t.equal(res.status, 200);
  t.equal(res.text, 'finished', 'the request in flight finished whole');
  t.equal(res.headers.connection, 'close', 'and its response closes the kept-alive connection');
  t.equal(await gw.exited, 0);
});

t.test('a second SIGTERM stops at once, during the delay too: what is cut is logged, exit 1', async (t) => {
  const backend = await startBackend(t, { handler: () => undefined });
  const dir = t.testdir({ 'gateway.yaml': config(backend.url).replace('shutdownDelay: 0', 'shutdownDelay: 30s') });
  const gw = await spawnGateway(t, dir);
  const inFlight = request(`${gw.url}/api/v1/never`).then(
    () => 'completed',
    (e: NodeJS.ErrnoException) => e.code ?? e.message,
  );
  await until(() => backend.requests.length > 0, 'the backend to receive the request');
  gw.child.kill('SIGTERM');
  await gw.logs.waitFor((l) => l.msg.startsWith('stopping: /readyz answers 503'));
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 1, 'well before the 30 s delay and the 10 s shutdown timeout');
  t.not(await inFlight, 'completed');
  const cut = gw.logs.find((l) => l.msg.startsWith('stopping at once'));
  t.equal(cut?.msg, 'stopping at once (second SIGTERM): 1 request(s) in flight cut, their connections closed');
  t.equal(cut?.inFlight, 1);
});

t.test('SIGINT stops too; a request still running at the shutdown timeout is cut, and the exit is 0', async (t) => {
  const backend = await startBackend(t, {
    handler: (_req, res) => {
      res.writeHead(200);
      res.write('never finishes');
    },
  });
  const dir = t.testdir({ 'gateway.yaml': config(backend.url).replace('shutdownTimeout: 10s', 'shutdownTimeout: 300ms') });
  const gw = await spawnGateway(t, dir);
  const inFlight = request(`${gw.url}/api/v1/`).then(
    () => 'completed',
    (e: NodeJS.ErrnoException) => e.code ?? e.message,
  );
  await gw.logs.waitFor((l) => l.msg === 'gateway listening');
  await until(() => backend.requests.length > 0, 'the backend to receive the request');
  gw.child.kill('SIGINT');
  t.equal(await gw.exited, 0);
  t.not(await inFlight, 'completed', 'the unfinished response was cut, not completed');
  t.ok(gw.logs.find((l) => l.msg.startsWith('shutdown timeout')));
});

t.test('the HTTPS listener serves with the gateway\'s own certificate and sets X-Forwarded-Proto https', async (t) => {
  const own = issue({ cn: 'gateway.test', sans: ['127.0.0.1'], keyIndex: 1 });
  const backend = await startBackend(t);
  const dir = t.testdir({
    'gateway.yaml': config(backend.url).replace('listen: { http: "127.0.0.1:0", shutdownDelay: 0, shutdownTimeout: 10s }', 'listen: { http: "127.0.0.1:0", https: { address: "127.0.0.1:0", certificate: gw, protocols: [TLSv1.3] } }'),
    certs: { 'gw.crt': own.certPem, 'gw.key': own.keyPem },
  });
  const gw = await spawnGateway(t, dir);
  t.ok(gw.httpsUrl);
  const res = await new Promise<{ status: number; body: string; protocol: string }>((resolve, reject) => {
    const req = https.request(`${gw.httpsUrl}/api/v1/x`, { ca: own.certPem, agent: false }, (r) => {
      let body = '';
      r.on('data', (c: Buffer) => (body += c.toString()));
      r.on('end', () => resolve({ status: r.statusCode!, body, protocol: (r.socket as TLSSocket).getProtocol() ?? '' }));
    });
    req.on('error', reject);
    req.end();
  });
  t.equal(res.status, 200);
  t.equal(res.protocol, 'TLSv1.3');
  t.equal((JSON.parse(res.body) as { headers: Record<string, string> }).headers['x-forwarded-proto'], 'https');
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0);
});

t.test('a 64 MiB upload and download pass byte for byte; the gateway\'s memory does not grow with the body size', async (t) => {
  const MiB = 1024 * 1024;
  const backend = await startBackend(t, {
    streaming: (req, res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        hash.update(c);
        bytes += c.length;
      });
      req.on('end', () => {
        const download = /^\/download\/(\d+)$/.exec(req.url ?? '');
        if (!download) return void res.end(JSON.stringify({ bytes, sha256: hash.digest('hex') }));
        const size = Number(download[1]);
        res.writeHead(200, { 'content-length': String(size) });
        const chunk = Buffer.alloc(64 * 1024, 0x5a);
        let sent = 0;
        const pump = (): void => {
          while (sent < size) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
      });
    },
  });
  const dir = t.testdir({ 'gateway.yaml': config(backend.url) });
  const gw = await spawnGateway(t, dir);
  const pid = gw.child.pid!;

  const upload = (size: number) =>
    new Promise<{ sent: string; received: { bytes: number; sha256: string } }>((resolve, reject) => {
      const sent = createHash('sha256');
      const req = http.request(`${gw.url}/api/v1/upload`, { method: 'PUT', agent: false, headers: { 'content-length': String(size) } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ sent: sent.digest('hex'), received: JSON.parse(body) as { bytes: number; sha256: string } }));
      });
      req.on('error', reject);
      let written = 0;
      let counter = 0;
      const write = (): void => {
        while (written < size) {
          const chunk = Buffer.alloc(Math.min(64 * 1024, size - written), counter++ % 251);
          sent.update(chunk);
          written += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', write);
        }
        req.end();
      };
      write();
    });
  const download = (size: number) =>
    new Promise<number>((resolve, reject) => {
      http.get(`${gw.url}/api/v1/download/${size}`, { agent: false }, (res) => {
        let bytes = 0;
        res.pause();
        setTimeout(() => res.resume(), 300); // a slow reader first: back-pressure must reach the backend
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          if (c.some((b) => b !== 0x5a)) reject(new Error('corrupted download'));
        });
        res.on('end', () => resolve(bytes));
      }).on('error', reject);
    });

  await upload(1024);
  const baseline = currentRss(pid);
  const small = await upload(64 * MiB);
  t.equal(small.received.bytes, 64 * MiB);
  t.equal(small.received.sha256, small.sent, 'the backend received the 64 MiB upload byte for byte');
  t.equal(await download(64 * MiB), 64 * MiB, 'the client received the 64 MiB download whole');
  const peakAfter64 = peakRss(pid);

  // Four times the bytes: a gateway that buffered bodies would need four times the memory.
  const large = await upload(256 * MiB);
  t.equal(large.received.sha256, large.sent, 'a 256 MiB upload too');
  t.equal(await download(256 * MiB), 256 * MiB);
  const peakAfter256 = peakRss(pid);

  const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
  t.comment(`gateway RSS: baseline ${mib(baseline)}, peak after 64 MiB each way ${mib(peakAfter64)}, after 256 MiB each way ${mib(peakAfter256)}`);
  // Below both bodies held at once (128 MiB): what the first transfer adds is garbage not yet
  // collected, and how much of it V8 lets pile up differs by line (about 100 MiB on Node 26, 60 on 20).
  t.ok(peakAfter64 - baseline < 128 * MiB, `64 MiB each way raised the peak by ${mib(peakAfter64 - baseline)} (garbage not yet collected, not buffered bodies)`);
  t.ok(peakAfter256 - peakAfter64 < 32 * MiB, `256 MiB each way raised it by a further ${mib(peakAfter256 - peakAfter64)}: memory does not grow with the body`);
  gw.child.kill('SIGTERM');
  await once(gw.child, 'exit');
});

t.test('the HTTPS listener from a PKCS#12 file with its passphrase from the environment', async (t) => {
  const own = issue({ cn: 'gateway.test', sans: ['127.0.0.1'], keyIndex: 2 });
  const backend = await startBackend(t);
  const dir = t.testdir({
    'gateway.yaml': config(backend.url).replace(
      'listen: { http: "127.0.0.1:0", shutdownDelay: 0, shutdownTimeout: 10s }',
      'listen: { http: "127.0.0.1:0", https: { address: "127.0.0.1:0", certificate: gw, passphrase: "${GW_P12_PASSPHRASE}" } }',
    ),
    certs: { 'gw.p12': pkcs12(own, 'p12-secret') },
  });
  const child = spawn(process.execPath, [BIN, 'run'], { cwd: dir, env: { PATH: process.env.PATH ?? '', GW_P12_PASSPHRASE: 'p12-secret' }, stdio: 'pipe' });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  await until(() => out.includes('gateway listening'), 'the gateway to listen', 20_000);
  const httpsUrl = /"https":"https:\/\/[^"]*:(\d+)"/.exec(out)![1];
  const status = await new Promise<number>((resolve, reject) => {
    https.get(`https://127.0.0.1:${httpsUrl}/api/v1/`, { ca: own.certPem, agent: false }, (r) => {
      r.resume();
      r.on('end', () => resolve(r.statusCode!));
    }).on('error', reject);
  });
  t.equal(status, 200);
  t.notMatch(out, /p12-secret/, 'the passphrase is never logged');
});

t.test('--pretty writes lines for people', async (t) => {
  const backend = await startBackend(t);
  const dir = t.testdir({ 'gateway.yaml': config(backend.url) });
  const child = spawn(process.execPath, [BIN, 'run', '--pretty'], { cwd: dir, env: { PATH: process.env.PATH ?? '' }, stdio: 'pipe' });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  await until(() => out.includes('gateway listening'), 'the gateway to listen', 20_000);
  t.match(out, /INFO.*\(gatehouse\): gateway listening\n\s+generation: 1\n/, 'a level, the message, then indented fields');
  t.notMatch(out, /^\{"level"/m, 'no JSON');
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number];
  t.equal(code, 0);
});

t.test('--pretty on a terminal: colours, unless NO_COLOR is set', { skip: existsSync('/usr/bin/script') ? false : 'needs script(1) from util-linux for a terminal' }, async (t) => {
  const backend = await startBackend(t);
  const dir = t.testdir({ 'gateway.yaml': config(backend.url) });
  // script(1) gives the gateway a pseudo-terminal for stdout, as a person's shell does.
  const onTerminal = async (env: Record<string, string>) => {
    const child = spawn('script', ['-qfec', `${process.execPath} ${BIN} run --pretty`, '/dev/null'], { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await until(() => out.includes('gateway listening'), 'the gateway to listen', 20_000);
    // Ctrl-C on that terminal: SIGINT to the gateway itself. (Killing script(1) instead would
    // only hang the terminal up, and SIGHUP reloads the gateway: it would run on.)
    child.stdin.write('\u0003');
    await once(child, 'exit');
    t.match(out, /stopped/, 'the gateway stopped on Ctrl-C');
    return out.slice(0, out.indexOf('gateway listening') + 40);
  };
  const ESC = String.fromCharCode(0x1b);
  t.ok((await onTerminal({})).includes(`${ESC}[32mINFO${ESC}[39m`), 'a terminal gets colours');
  t.notOk((await onTerminal({ NO_COLOR: '1' })).includes(`${ESC}[`), 'NO_COLOR: none (no-color.org)');
});

t.test('SIGHUP reloads at once, even with a ten-minute interval', async (t) => {
  const backend = await startBackend(t);
  const long = (name: string) => config(backend.url, 'reload: { interval: 10m }\n').replace('name: Test, context: /api', `name: ${name}, context: /${name.toLowerCase()}`);
  const dir = t.testdir({ 'gateway.yaml': long('Before') });
  const gw = await spawnGateway(t, dir);
  t.equal((await request(`${gw.url}/before/v1/`)).status, 200);
  writeFileSync(path.join(dir, 'gateway.yaml'), long('After'));
  gw.child.kill('SIGHUP');
  const applied = await gw.logs.waitFor((l) => l.msg === 'configuration applied', 10_000);
  t.match(applied, { reason: 'SIGHUP', generation: 2, changes: { apis: { added: ['After v1'], removed: ['Before v1'] } } });
  t.equal((await request(`${gw.url}/after/v1/`)).status, 200);
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0);
});

t.test('under npx, which exits on SIGTERM without passing it on, the gateway notices and stops rather than stay orphaned', async (t) => {
  const dir = t.testdir({
    'package.json': '{ "name": "uses-gatehouse", "private": true }\n',
    'gateway.yaml': 'version: 1\nlisten: { http: "127.0.0.1:0", shutdownDelay: 0 }\nadmin: { address: "127.0.0.1:0" }\napis: []\n',
  });
  mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(BIN, path.join(dir, 'node_modules', '.bin', 'gatehouse'));
  const npx = spawn('npx', ['--no-install', 'gatehouse', 'run'], { cwd: dir, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void (npx.exitCode === null && npx.kill('SIGKILL')));
  let output = '';
  npx.stdout.on('data', (c: Buffer) => (output += c.toString()));
  await until(() => output.includes('gateway listening'), 'the gateway to listen', 20_000);
  const listening = JSON.parse(output.split('\n').find((l) => l.includes('gateway listening'))!) as { pid: number };
  npx.kill('SIGTERM');
  await until(() => output.includes('npm, which started the gateway, is gone'), 'the gateway to notice', 10_000);
  await until(
    () => {
      try {
        process.kill(listening.pid, 0);
        return false;
      } catch {
        return true;
      }
    },
    'the gateway to exit',
    10_000,
  );
  t.match(output, /"msg":"stopped"/, 'it stopped gracefully');
});
