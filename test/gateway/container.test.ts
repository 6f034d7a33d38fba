// Gatehouse the way its container image runs it (Dockerfile, docs/deploy.md): a production-only
// install (`npm ci --omit=dev` on a built checkout: no compiler, no build at install time), as a
// non-root user, on a read-only root file system, with the configuration named by
// GATEHOUSE_CONFIG in a read-only folder and the certificates in a Kubernetes Secret volume's
// layout (`..data` links, root:fsGroup, mode 0440). It serves, takes a rotated Secret, and stops
// on SIGTERM the way a rolling update needs. And the npm package, installed into an empty folder.
//
// The read-only root is a private mount namespace (unshare -m) in which / is remounted read-only,
// /tmp with it, as under readOnlyRootFilesystem; the user is set by setpriv. Both need root,
// which the tests have here and in CI; without it the test says why it is skipped. NODE_OPTIONS
// is cleared: through it tap gives every child its coverage hook, which would write its report
// on the read-only root (the image has no such hook).
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync, chmodSync, chownSync } from 'node:fs';
import type https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { startBackend } from '../helpers/backend.js';
import { request } from '../helpers/client.js';
import { issue } from '../helpers/pki.js';
import type { Issued } from '../helpers/pki.js';
import { spawnGateway } from '../helpers/process.js';
import { untilAsync } from '../helpers/wait.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** The image's user: any uid but root's does (the Dockerfile's is 1000); nobody exists everywhere. */
const POD_USER = 65534;
const asRoot = process.getuid?.() === 0;
const NPM_FLAGS = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

t.setTimeout(300_000);

/** A temporary folder that the pod's user can read, removed after the tests. */
function folder(name: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `gatehouse-${name}-`));
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** What the Dockerfile's final stage has before `npm ci --omit=dev`: the checkout, built, without the sources and tests. */
function builtCheckout(): string {
  const dir = folder('checkout');
  for (const entry of ['package.json', 'package-lock.json', 'bin', 'dist', 'schemas', 'scripts', 'README.md', 'LICENSE']) {
    if (existsSync(path.join(ROOT, entry))) cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  }
  return dir;
}

const checkout = builtCheckout();
const installed = run('npm', ['ci', '--omit=dev', ...NPM_FLAGS], { cwd: checkout, env: { ...process.env, NODE_ENV: 'production' } });

t.test('npm ci --omit=dev on a built checkout: no build at install time, a working gatehouse', async (t) => {
  const { stdout } = await installed;
  t.match(stdout, /TypeScript is not installed \(a production install\): using the dist\/ already built/, 'prepare says why it does not build, and succeeds');
  t.notOk(existsSync(path.join(checkout, 'node_modules', 'typescript')), 'no compiler');
  t.notOk(existsSync(path.join(checkout, 'node_modules', 'tap')), 'no test runner');
  t.ok(existsSync(path.join(checkout, 'node_modules', 'undici')), 'the production dependencies');
  const version = await run(process.execPath, [path.join(checkout, 'bin', 'gatehouse.js'), '--version']);
  t.equal(version.stdout, `${VERSION}\n`);
});

/** Kubernetes' Secret volume: files in a timestamped folder, `..data` linking to it, a link per key; root:fsGroup, defaultMode. */
class SecretVolume {
  #generation = 0;
  constructor(readonly dir: string) {
    mkdirSync(dir, { mode: 0o755 });
  }

  /** Writes a new version of the Secret the way the kubelet's atomic writer does: one rename swaps every file at once. */
  publish(files: Record<string, string>): void {
    const previous = existsSync(path.join(this.dir, '..data')) ? readdirSync(this.dir).find((n) => n.startsWith('..20')) : undefined;
    const stamped = `..2026_12_01_00_00_0${this.#generation++}.000000001`;
    mkdirSync(path.join(this.dir, stamped), { mode: 0o755 });
    for (const [name, text] of Object.entries(files)) {
      const file = path.join(this.dir, stamped, name);
      writeFileSync(file, text);
      chmodSync(file, 0o440);
      if (asRoot) chownSync(file, 0, POD_USER);
      if (!existsSync(path.join(this.dir, name))) symlinkSync(`..data/${name}`, path.join(this.dir, name));
    }
    symlinkSync(stamped, path.join(this.dir, '..data_tmp'));
    renameSync(path.join(this.dir, '..data_tmp'), path.join(this.dir, '..data'));
    if (previous) rmSync(path.join(this.dir, previous), { recursive: true });
  }
}

t.test('the image: non-root, read-only root file system, GATEHOUSE_CONFIG, a Secret volume; serves, rotates, drains on SIGTERM', { skip: asRoot ? false : 'needs root for unshare -m and setpriv (the tests run as root in CI)' }, async (t) => {
  await installed;
  const backendCert = issue({ cn: 'orders.internal', sans: ['127.0.0.1'] });
  const listenerCert = issue({ cn: 'gateway.test', sans: ['127.0.0.1'] });
  const backend = await startBackend(t, { certificate: backendCert });

  // /config: the ConfigMap's folder (read-only, owned by root), the Secret's at /config/certs.
  const config = folder('config');
  writeFileSync(
    path.join(config, 'gateway.yaml'),
    `version: 1
listen:
  http: 127.0.0.1:0
  https: { address: 127.0.0.1:0, certificate: gateway }
  shutdownDelay: 1s
  shutdownTimeout: 5s
admin: { address: 127.0.0.1:0 }
reload: { interval: 200ms }
apis:
  - name: Orders
    context: /orders
    version: v1
    endpoints:
      production: { url: "${backend.url}", certificate: orders }
`,
  );
  chmodSync(path.join(config, 'gateway.yaml'), 0o444);
  const secret = new SecretVolume(path.join(config, 'certs'));
  const certs = (orders: Issued) => ({ 'orders.crt': orders.certPem, 'gateway.crt': listenerCert.certPem, 'gateway.key': listenerCert.keyPem });
  secret.publish(certs(backendCert));
  chmodSync(config, 0o555);

  const gw = await spawnGateway(t, config, [], [], {
    bin: path.join(checkout, 'bin', 'gatehouse.js'),
    cwd: '/',
    env: { GATEHOUSE_CONFIG: path.join(config, 'gateway.yaml'), NODE_ENV: 'production' },
    prefix: ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', `mount -o remount,bind,ro / && exec setpriv --reuid=${POD_USER} --regid=${POD_USER} --clear-groups -- env -u NODE_OPTIONS "$0" "$@"`],
  });
  t.equal((await request(`${gw.adminUrl}/readyz`)).status, 200);
  const status = JSON.parse((await request(`${gw.adminUrl}/status`)).text) as { gateway: { pid: number }; configFile: string };
  t.equal(status.configFile, path.join(config, 'gateway.yaml'), 'the file GATEHOUSE_CONFIG names');
  t.equal(status.gateway.pid, gw.child.pid, '/status names the gateway\'s pid: unshare, sh, setpriv and env each exec the next, so the process started is node itself, as the image\'s exec-form entrypoint makes it');
  t.equal(readFileSync(`/proc/${status.gateway.pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)?.[1], String(POD_USER), 'the gateway runs as the pod\'s user');
  t.same(
    gw.logs.lines.filter((l) => l.level >= 40).map((l) => l.msg),
    [],
    'no warning: the key (root:fsGroup, 0440) is not reported as exposed, and nothing failed to write',
  );

  const first = await request(`${gw.url}/orders/v1/items`);
  t.equal(first.status, 200, 'served through TLS verified against the Secret\'s certificate');

  // The backend's certificate is renewed; until the Secret follows, the gateway refuses it.
  const renewed = issue({ cn: 'orders.internal', sans: ['127.0.0.1'] });
  (backend.server as https.Server).setSecureContext({ cert: renewed.certPem, key: renewed.keyPem });
  backend.server.closeAllConnections(); // the pool's kept-alive connections were made with the old one
  await untilAsync(async () => (await request(`${gw.url}/orders/v1/items`)).status === 502, 'the gateway to refuse the renewed, not yet trusted certificate');
  secret.publish(certs(renewed));
  await gw.logs.waitFor((l) => l.msg === 'configuration applied');
  t.equal((await request(`${gw.url}/orders/v1/items`)).status, 200, 'the rotated Secret is trusted, with no restart');

  // A rolling update: SIGTERM, /readyz 503 at once, still accepting for shutdownDelay, then drained.
  gw.child.kill('SIGTERM');
  await gw.logs.waitFor((l) => l.msg.startsWith('stopping: /readyz answers 503'));
  t.equal((await request(`${gw.adminUrl}/readyz`)).status, 503, '/readyz fails at once, so the endpoints drop the pod');
  t.equal((await request(`${gw.url}/orders/v1/items`)).status, 200, 'a request routed here meanwhile is still served');
  t.equal(await gw.exited, 0, 'a graceful exit');
  t.ok(gw.logs.find((l) => l.msg === 'stopped'));
  t.equal(gw.stderr(), '', 'nothing on stderr: no write to the read-only file system was attempted');
});

t.test('npm pack, installed into an empty folder: a working gatehouse carrying dist/ and its sources in the maps', async (t) => {
  await installed;
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', ...NPM_FLAGS], { cwd: checkout });
  const [packed] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
  const files = packed.files.map((f) => f.path);
  t.ok(files.includes('bin/gatehouse.js') && files.includes('dist/main.js') && files.includes('schemas/gateway.schema.json'), 'the command, the build and the schema');
  t.same(files.filter((f) => /^(src|test|bench|\.ci)\//.test(f)), [], 'no sources, tests or CI');
  const maps = files.filter((f) => f.endsWith('.map'));
  t.ok(maps.length > 10, 'source maps are shipped');
  const withoutSources = maps.filter((m) => !(JSON.parse(readFileSync(path.join(checkout, m), 'utf8')) as { sourcesContent?: unknown[] }).sourcesContent?.length);
  t.same(withoutSources, [], 'and each carries its sources (src/ is not in the package)');

  const empty = folder('install');
  writeFileSync(path.join(empty, 'package.json'), '{ "name": "uses-gatehouse", "private": true }\n');
  await run('npm', ['install', '--omit=dev', ...NPM_FLAGS, path.join(checkout, packed.filename)], { cwd: empty });
  const bin = path.join(empty, 'node_modules', '.bin', 'gatehouse');
  t.equal((await run(bin, ['-v'])).stdout, `${VERSION}\n`);

  const shop = issue({ cn: 'shop', sans: ['127.0.0.1'] });
  const backend = await startBackend(t, { certificate: shop });
  const project = folder('project');
  writeFileSync(path.join(project, 'gateway.yaml'), `version: 1\nlisten: { http: 127.0.0.1:0, shutdownDelay: 0 }\nadmin: { address: 127.0.0.1:0 }\napis:\n  - { name: Shop, context: /shop, version: v1, endpoints: { production: { url: "${backend.url}", certificate: shop } } }\n`);
  mkdirSync(path.join(project, 'certs'));
  writeFileSync(path.join(project, 'certs', 'shop.crt'), shop.certPem);
  t.match((await run(bin, ['validate'], { cwd: project })).stdout, /valid/, 'validate works from the installed package');
  const gw = await spawnGateway(t, project, [], [], { bin: path.join(empty, 'node_modules', 'gatehouse', 'bin', 'gatehouse.js') });
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200, 'and run serves');
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0);
});

