// deploy/compose/ and deploy/systemd/: the gateway outside Kubernetes. The compose file is parsed
// and compared with the gateway.yaml it mounts (loaded with the real validator, from the folder it
// binds); the systemd unit is parsed, checked by `systemd-analyze verify` when systemd is there,
// and its stop timeout compared with the configuration's shutdown defaults.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import YAML from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/types.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const COMPOSE_DIR = path.join(ROOT, 'deploy/compose');

/** Go's time.ParseDuration, as Compose reads stop_grace_period and healthcheck times, in ms. */
function goDurationMs(text: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`not a duration: ${text}`);
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * units[unit!]!, 0);
}

/** systemd's time spans (TimeoutStopSec=30s, 1min 30s, a bare number of seconds), in ms. */
function systemdSpanMs(text: string): number {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+)\s*(ms|sec|s|min|m|h)\b/g)];
  if (parts.length === 0) throw new Error(`not a time span: ${text}`);
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * units[unit!]!, 0);
}

const shutdownMs = (config: GatewayConfig) => config.listen.shutdownDelayMs + config.listen.shutdownTimeoutMs;

interface ComposeService {
  image?: string;
  build?: unknown;
  user?: string;
  read_only?: boolean;
  cap_drop?: string[];
  security_opt?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: { type: string; source: string; target: string; read_only?: boolean }[];
  stop_signal?: string;
  stop_grace_period?: string;
  healthcheck?: { test: string[] };
  command?: string[];
}

t.test('compose: the gateway service agrees with the gateway.yaml it mounts', async (t) => {
  const compose = YAML.parse(readFileSync(path.join(COMPOSE_DIR, 'docker-compose.yaml'), 'utf8')) as { services: Record<string, ComposeService> };
  const gateway = compose.services.gateway!;
  t.ok(gateway, 'a gateway service');
  t.ok(gateway.build, 'built from the repository (the Dockerfile)');
  t.equal(gateway.read_only, true, 'read_only: true (the gateway writes nothing)');
  t.equal(gateway.user, '1000:1000', "the image's user, by number");
  t.same(gateway.cap_drop, ['ALL']);
  t.ok(gateway.security_opt?.includes('no-new-privileges:true'), 'no-new-privileges');
  t.equal(gateway.stop_signal ?? 'SIGTERM', 'SIGTERM');

  const configMount = gateway.volumes?.find((v) => v.target === '/config');
  t.ok(configMount, 'the folder /config is mounted (not the file alone, whose inode an editor replaces)');
  t.equal(configMount!.type, 'bind');
  t.equal(configMount!.read_only, true, 'read-only');
  t.notOk(gateway.volumes?.some((v) => v.target === '/config/gateway.yaml'), 'no bind mount of the file gateway.yaml');

  // ${VAR:?message} and ${VAR:-default}: the variable as Compose hands it to the container.
  const env = Object.fromEntries(Object.entries(gateway.environment ?? {}).map(([k, v]) => [k, /^\$\{\w+(:\?.*)?\}$/.test(v) ? `value-of-${k}` : v.replace(/^\$\{\w+:-(.*)\}$/, '$1')]));
  const folder = path.resolve(COMPOSE_DIR, configMount!.source);
  const { config, diagnostics } = await loadConfig(path.join(folder, 'gateway.yaml'), { env });
  t.same(diagnostics.map((d) => `${d.code} ${d.path ?? ''}: ${d.message}`), [], 'the mounted gateway.yaml loads without an error or a warning, with the environment the service sets');
  t.ok(config, 'a configuration');

  const grace = goDurationMs(gateway.stop_grace_period ?? '10s');
  t.ok(grace > shutdownMs(config!), `stop_grace_period ${gateway.stop_grace_period} is above listen.shutdownDelay + listen.shutdownTimeout (${shutdownMs(config!) / 1000} s)`);

  const published = (gateway.ports ?? []).map((p) => Number(p.split(':').at(-1)!.split('/')[0]));
  t.ok(published.includes(config!.listen.http.port), `listen.http's port ${config!.listen.http.port} is published`);
  t.ok(published.includes(config!.admin.address.port), `the admin port ${config!.admin.address.port} is published`);
  const adminPublish = gateway.ports!.find((p) => Number(p.split(':').at(-1)) === config!.admin.address.port)!;
  t.match(adminPublish, /^127\.0\.0\.1:/, "the admin port on the host's loopback only");

  const health = gateway.healthcheck?.test;
  t.equal(health?.[0], 'CMD', 'healthcheck in exec form');
  t.equal(health?.[1], 'node', 'with node itself');
  const url = new URL(/https?:\/\/[^'"\s)]+/.exec(health!.join(' '))![0]);
  t.equal(Number(url.port), config!.admin.address.port, 'the healthcheck asks the admin port');
  t.equal(url.pathname, '/healthz');

  // The backend it calls is a service of the file, serving the certificate the gateway trusts.
  for (const api of config!.apis) {
    const endpoint = api.production.targets[0]!;
    const backend = compose.services[endpoint.hostname];
    t.ok(backend, `${endpoint.url}: ${endpoint.hostname} is a service of the compose file`);
    t.equal(backend!.read_only, true, `${endpoint.hostname}: read_only`);
    const port = backend!.command?.[backend!.command.indexOf('--port') + 1];
    t.equal(Number(port), endpoint.port, `${endpoint.hostname} listens on the URL's port`);
    for (const file of endpoint.certificates) {
      const served = backend!.volumes?.find((v) => path.resolve(COMPOSE_DIR, v.source) === file.path);
      t.ok(served, `${endpoint.hostname} serves ${path.relative(ROOT, file.path)}, the certificate of alias ${file.alias}`);
    }
  }
});

t.test('compose: every file a service binds exists', async (t) => {
  const compose = YAML.parse(readFileSync(path.join(COMPOSE_DIR, 'docker-compose.yaml'), 'utf8')) as { services: Record<string, ComposeService> };
  const binds = Object.values(compose.services).flatMap((s) => (s.volumes ?? []).filter((v) => v.type === 'bind'));
  t.ok(binds.length >= 3, `${binds.length} bind mounts`);
  for (const bind of binds) {
    t.ok(existsSync(path.resolve(COMPOSE_DIR, bind.source)), `${bind.source} exists`);
    t.equal(bind.read_only, true, `${bind.source} is mounted read-only`);
  }
});

// ---------------------------------------------------------------------------------- systemd

/** An INI-style unit: section → key → values (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) sections.set(section[1]!, (current = new Map<string, string[]>()));
    else {
      const at = line.indexOf('=');
      const key = line.slice(0, at).trim();
      current!.set(key, [...(current!.get(key) ?? []), line.slice(at + 1).trim()]);
    }
  }
  return sections;
}

const UNIT_FILE = path.join(ROOT, 'deploy/systemd/gatehouse.service');

t.test('systemd: node runs the gateway, SIGHUP reloads, the stop timeout covers the drain, hardened', async (t) => {
  const unit = parseUnit(readFileSync(UNIT_FILE, 'utf8'));
  const service = unit.get('Service')!;
  const one = (key: string) => service.get(key)?.at(-1);
  const exec = one('ExecStart')!.split(/\s+/);
  t.match(exec[0], /^\/\S*\/node$/, 'ExecStart runs node itself, by absolute path (no npm, no shell)');
  t.match(exec[1], /\/bin\/gatehouse\.js$/, 'the installed command');
  t.equal(exec[2], 'run');
  t.equal(exec[exec.indexOf('-c') + 1], '/etc/gatehouse/gateway.yaml', 'the configuration in /etc/gatehouse');
  t.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID', 'systemctl reload sends SIGHUP');
  t.equal(one('KillSignal'), 'SIGTERM');

  // The configuration's defaults, as the schema fills them: a file that sets no shutdown key.
  const dir = t.testdir({ 'gateway.yaml': 'version: 1\napis: []\n', certs: {} });
  const { config } = await loadConfig(path.join(dir, 'gateway.yaml'), { env: {} });
  t.ok(systemdSpanMs(one('TimeoutStopSec')!) > shutdownMs(config!), `TimeoutStopSec ${one('TimeoutStopSec')} is above the default listen.shutdownDelay + listen.shutdownTimeout (${shutdownMs(config!) / 1000} s)`);

  const user = one('User');
  t.ok(one('DynamicUser') === 'yes' || (user !== undefined && user !== 'root' && user !== '0'), `an unprivileged user (User=${user})`);
  for (const [key, value] of [
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['ProtectHome', 'yes'],
    ['PrivateTmp', 'yes'],
    ['PrivateDevices', 'yes'],
    ['RestrictSUIDSGID', 'yes'],
    ['SystemCallArchitectures', 'native'],
  ] as const)
    t.equal(one(key), value, `${key}=${value}`);
  t.equal(one('CapabilityBoundingSet'), '', 'no capabilities');
  t.not(one('MemoryDenyWriteExecute'), 'yes', "not MemoryDenyWriteExecute: V8's JIT needs it");
  t.equal(unit.get('Install')?.get('WantedBy')?.[0], 'multi-user.target');
});

const SYSTEMD_ANALYZE = !spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).error;

t.test('systemd: systemd-analyze verify accepts the unit', { skip: SYSTEMD_ANALYZE ? false : 'systemd-analyze not installed (systemd): the unit is checked by parsing only' }, async (t) => {
  // verify checks that ExecStart's program exists: the node of the unit where it is installed there, else this one.
  let file = UNIT_FILE;
  const text = readFileSync(UNIT_FILE, 'utf8');
  const node = /^ExecStart=(\S+)/m.exec(text)![1]!;
  if (!existsSync(node)) {
    file = path.join(t.testdir(), 'gatehouse.service');
    writeFileSync(file, text.replace(`ExecStart=${node}`, `ExecStart=${process.execPath}`));
  }
  const result = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', timeout: 30_000 });
  t.equal(result.status, 0, `exit 0: ${result.stderr}`);
  // Unknown keys and unparsable values are warnings that still exit 0: none is allowed.
  t.equal(result.stderr.trim(), '', 'no warning (unknown key, bad value, missing program)');
});
