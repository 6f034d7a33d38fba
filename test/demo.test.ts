// The default that runs out of the box: the demo backend makes its certificate on first start,
// the bundled gateway.yaml trusts it by alias, and a request goes through verified TLS.
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import t from 'tap';
import type { Test } from 'tap';
import { startDemoBackend } from '../src/demo/backend.js';
import { json, request } from './helpers/client.js';
import { startTestGateway } from './helpers/gateway.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const bundled = readFileSync(path.join(ROOT, 'gateway.yaml'), 'utf8');

interface DemoEcho {
  message: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
}

t.test('the demo backend behind the bundled gateway.yaml, through verified TLS', async (t) => {
  const dir = t.testdir({ certs: {} });
  const logger = pino({ level: 'silent' });
  const options = { host: '127.0.0.1', port: 0, certsDirectory: path.join(dir, 'certs'), alias: 'demo', stateDirectory: path.join(dir, '.gatehouse'), logger };
  const backend = await startDemoBackend(options);
  t.teardown(() => backend.close());
  t.equal(backend.certificatePath, path.join(dir, 'certs', 'demo.crt'));
  t.equal(statSync(path.join(dir, '.gatehouse', 'demo-backend.key')).mode & 0o777, 0o600, 'the private key is readable by its owner only');

  // The bundled file, pointed at this backend's port.
  const config = bundled.replace('https://127.0.0.1:9443', `https://127.0.0.1:${backend.address.port}`).replace('http: 0.0.0.0:8280', 'http: 127.0.0.1:0').replace('address: 127.0.0.1:9901', 'address: 127.0.0.1:0');
  t.not(config, bundled);
  const gw = await startTestGateway(t, config, { certs: { 'demo.crt': readFileSync(backend.certificatePath) } });
  const res = await request(`${gw.url}/demo/1.0.0/hello?name=newcomer`);
  t.equal(res.status, 200);
  const echo = json<DemoEcho>(res);
  t.match(echo.message, /reached over TLS that the gateway verified/);
  t.equal(echo.path, '/hello');
  t.same(echo.query, { name: 'newcomer' });
  t.equal(echo.headers['x-forwarded-proto'], 'http');
  t.equal((await request(`${gw.url}/demo/hello`)).status, 200, 'the default version too');
  t.same(gw.logs.lines.filter((l) => l.level >= 40).map((l) => l.msg), [], 'no warning: the certificate names 127.0.0.1');

  await backend.close();
  const again = await startDemoBackend(options);
  t.teardown(() => again.close());
  t.equal(readFileSync(again.certificatePath, 'utf8'), readFileSync(backend.certificatePath, 'utf8'), 'a second start reuses the certificate');
});

async function portFree(port: number): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `npm start`'s script in a copy of the bundled setup; resolves once the gateway listens. */
async function startScript(t: Test): Promise<{ child: ChildProcessWithoutNullStreams; dir: string; output: () => string }> {
  for (const port of [8280, 9443, 9901]) t.ok(await portFree(port), `port ${port} is free for the bundled configuration`);
  const dir = t.testdir({ certs: {} });
  copyFileSync(path.join(ROOT, 'gateway.yaml'), path.join(dir, 'gateway.yaml'));
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start.js')], { cwd: dir, env: { PATH: process.env.PATH ?? '' }, stdio: 'pipe' });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const deadline = Date.now() + 20_000;
  while (!output.includes('gateway listening') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  t.match(output, /gateway listening/, 'both started');
  return { child, dir, output: () => output };
}

async function portsFreed(t: Test, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!((await portFree(8280)) && (await portFree(9443))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.ok(await portFree(8280), `${what}: the gateway is gone`);
  t.ok(await portFree(9443), `${what}: the demo backend is gone`);
}

t.test("npm start's script: demo backend, then the gateway, on the bundled file and ports; SIGHUP reloads; SIGTERM and Ctrl-C stop both", async (t) => {
  const started = await startScript(t);
  t.match(started.output(), /curl http:\/\/127\.0\.0\.1:8280\/demo\/1\.0\.0\/hello/, 'the script says what to try');
  const res = await request('http://127.0.0.1:8280/demo/1.0.0/hello');
  t.equal(res.status, 200, res.text);
  t.match(json<DemoEcho>(res).message, /Gatehouse demo backend/);
  t.ok(statSync(path.join(started.dir, 'certs', 'demo.crt')).isFile(), 'the certificate was written into certs/');

  // SIGHUP reaches the gateway through the wrapper (npm start's parent may be a supervisor).
  started.child.kill('SIGHUP');
  const deadline = Date.now() + 10_000;
  let reason: unknown;
  while (reason !== 'SIGHUP' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    reason = (json<{ lastReload: { reason?: string } | null }>(await request('http://127.0.0.1:9901/status')).lastReload ?? {}).reason;
  }
  t.equal(reason, 'SIGHUP', 'the gateway reloaded on the SIGHUP the script received');
  t.equal(started.child.exitCode, null, 'and the script is still running');

  started.child.kill('SIGTERM');
  const [code] = (await once(started.child, 'exit')) as [number | null];
  t.equal(code, 0, "SIGTERM: the gateway's exit code, after its shutdown delay");
  await portsFreed(t, 'SIGTERM');

  const again = await startScript(t);
  again.child.kill('SIGINT');
  t.equal(((await once(again.child, 'exit')) as [number | null])[0], 0, 'Ctrl-C: a clean exit');
  await portsFreed(t, 'Ctrl-C');
});

t.test("npm start's script killed outright (SIGKILL): its children stop instead of keeping the ports", async (t) => {
  const started = await startScript(t);
  started.child.kill('SIGKILL');
  await portsFreed(t, 'the wrapper killed');
});
