// `gatehouse import wso2` on each WSO2 apictl export of test/fixtures/wso2 (README.md there lists
// every endpoint, port, alias and what cannot be carried over), end to end: the fixture copied and
// made servable (one real HTTPS backend per localhost:94xx, each with a certificate made now), the
// import run by the installed command, the written gateway.yaml entry, certificates and definition
// checked, `gatehouse validate` run, and the gateway started on the result to answer through
// verified TLS with the imported certificates. Then what the command must refuse or leave alone:
// re-runs, entries and certificates that differ (--force), other APIs and comments of the file,
// --dry-run, deployment folders and their environments, a folder that is no export, and a result
// that does not validate (every file put back). Zips are in import-wso2-archive.test.ts.
import { X509Certificate } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import t from 'tap';
import type { Test } from 'tap';
import { parse as parseYaml } from 'yaml';
import { startGateway } from '../../src/gateway.js';
import { formatText } from '../../src/diagnostics.js';
import { main } from '../../src/main.js';
import { startBackend } from '../helpers/backend.js';
import type { Backend } from '../helpers/backend.js';
import { runCli, runInProcess } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';
import { request } from '../helpers/client.js';
import type { Response } from '../helpers/client.js';
import { LogCapture } from '../helpers/gateway.js';
import { issue } from '../helpers/pki.js';
import type { Issued } from '../helpers/pki.js';

// Two subtests at a time: each mostly waits (for the installed command, for a gateway to listen).
t.jobs = 2;

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/wso2');
const SANDBOX = { 'x-gatehouse-environment': 'sandbox' }; // routing.sandboxHeader's default (docs/configuration.md)

// ------------------------------------------------------------------ making a fixture servable

/** One port of a fixture and the certificate its backend presents: the alias's, or (null) one the export has no alias for. */
type PortTable = Record<number, string | null>;

interface Served {
  /** Where the copy is (the import's cwd). */
  readonly root: string;
  /** The fixture's port → its real backend. */
  readonly backends: ReadonlyMap<number, Backend & { readonly connections: () => number; readonly label: number }>;
  /** The fixture's port → the real port. */
  readonly real: (port: number) => number;
  /** The certificate made for each alias (and for each port without one, as `port:<n>`). */
  readonly certificates: ReadonlyMap<string, Issued>;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** PEM of `der` in the layout of `original`: one base64 line (as APIM writes Endpoint-certificates/) or 64 columns. */
function sameLayoutPem(original: string, der: Buffer): string {
  const body = /-----BEGIN CERTIFICATE-----\r?\n([\s\S]*?)\r?\n-----END CERTIFICATE-----/.exec(original)?.[1];
  if (body === undefined) throw new Error('not a PEM certificate');
  const base64 = der.toString('base64');
  const lines = body.includes('\n') ? base64.match(/.{1,64}/g)! : [base64];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----${original.endsWith('\n') ? '\n' : ''}`;
}

/**
 * Copies the fixture folders into a test folder and makes the copy servable. THE ONLY CHANGES MADE
 * TO THE EXPORT: every `localhost:<fixture port>` in its text files becomes `127.0.0.1:<real port>`
 * (URLs of api.yaml, params.yaml, the definitions, endpoint_certificates.yaml's endpoint/hostName),
 * and each certificate (the <alias>.crt files, the 3.x inline base64 DER) is replaced by the one
 * its backend presents, made at test time (the fixtures commit no private keys). `extra` are
 * ports the files do not name (the values of params.yaml's ${VAR}s).
 */
async function servable(t: Test, folders: readonly string[], ports: PortTable, extra: PortTable = {}): Promise<Served> {
  const root = t.testdir({});
  for (const folder of folders) cpSync(path.join(FIXTURES, folder), path.join(root, folder), { recursive: true });
  const files = filesUnder(root);

  // The table is the README's: the copy names exactly these ports.
  const named = new Set<number>();
  for (const file of files.filter((f) => !f.endsWith('.crt'))) for (const m of readFileSync(file, 'utf8').matchAll(/localhost:(\d+)/g)) named.add(Number(m[1]));
  t.same([...named].sort(), Object.keys(ports).map(Number).sort(), `the fixture names the ports of its README (${folders.join(', ')})`);

  const certificates = new Map<string, Issued>();
  const certificateOf = (port: number, alias: string | null): Issued => {
    const key = alias ?? `port:${port}`;
    let certificate = certificates.get(key);
    if (!certificate) {
      // A subject of its own for each: no certificate can pass for another's issuer.
      certificate = issue({ cn: alias ?? `no-alias-${port}`, sans: ['localhost', '127.0.0.1'] });
      certificates.set(key, certificate);
    }
    return certificate;
  };
  const backends = new Map<number, Backend & { connections: () => number; label: number }>();
  for (const [port, alias] of Object.entries({ ...ports, ...extra }).map(([p, a]) => [Number(p), a] as const)) {
    const backend = await startBackend(t, {
      certificate: certificateOf(port, alias),
      handler: (req, res) => {
        const body = JSON.stringify({ backend: port, method: req.method, url: req.url });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      },
    });
    let connections = 0;
    backend.server.on('connection', () => connections++);
    backend.server.on('tlsClientError', () => undefined);
    backends.set(port, { ...backend, connections: () => connections, label: port });
  }
  const real = (port: number): number => {
    const backend = backends.get(port);
    if (!backend) throw new Error(`no backend for fixture port ${port}`);
    return backend.port;
  };

  let replaced = 0;
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.crt')) {
      const alias = path.basename(file, '.crt');
      const certificate = certificates.get(alias);
      if (!certificate) throw new Error(`${file}: no backend presents the certificate of alias ${alias}`);
      writeFileSync(file, sameLayoutPem(text, certificate.der));
      replaced++;
      continue;
    }
    let changed = text.replace(/localhost:(\d+)/g, (_, port: string) => `127.0.0.1:${real(Number(port))}`);
    if (path.basename(file) === 'endpoint_certificates.yaml' && !changed.includes('type: endpoint_certificates')) {
      // 3.x: the certificate inline, base64 of the DER, after its alias.
      changed = changed.replace(/^(\s*alias: (\S+)\n\s*certificate: )(\S+)$/gm, (_, head: string, alias: string) => {
        const certificate = certificates.get(alias);
        if (!certificate) throw new Error(`${file}: no backend presents the certificate of alias ${alias}`);
        replaced++;
        return head + certificate.der.toString('base64');
      });
    }
    if (changed !== text) writeFileSync(file, changed);
  }
  t.equal(replaced, new Set(Object.values({ ...ports, ...extra }).filter((a) => a !== null)).size, 'every certificate of the export replaced by its backend\'s');
  return { root, backends, real, certificates };
}

// ------------------------------------------------------------------ reading what the command did

interface NotCarried {
  readonly count: number | undefined;
  readonly items: readonly { readonly what: string; readonly where: string }[];
}

/** The lines `  - <what>  [<where>]` after "Not carried over (N)". */
function notCarried(stdout: string): NotCarried {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => /^Not carried over \(\d+\)/.test(l));
  if (start === -1) return { count: undefined, items: [] };
  const items: { what: string; where: string }[] = [];
  for (const line of lines.slice(start + 1)) {
    const m = /^ {2}- (.*?) {2}\[(.*)\]$/.exec(line);
    if (!m) break;
    items.push({ what: m[1]!, where: m[2]! });
  }
  return { count: Number(/\((\d+)\)/.exec(lines[start]!)![1]), items };
}

/** Every file under `dir` (relative path → bytes and mtime), and its folders. */
function snapshot(dir: string): { files: Record<string, { text: string; mtimeMs: number }>; folders: string[] } {
  const files: Record<string, { text: string; mtimeMs: number }> = {};
  const folders: string[] = [];
  if (!existsSync(dir)) return { files, folders };
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const relative = path.relative(dir, full).split(path.sep).join('/');
    if (entry.isDirectory()) folders.push(relative);
    else files[relative] = { text: readFileSync(full, 'latin1'), mtimeMs: statSync(full).mtimeMs };
  }
  return { files, folders: folders.sort() };
}

const fingerprint = (pem: string | Buffer): string => new X509Certificate(pem).fingerprint256;

/** The same command line, in this process (main() as bin/gatehouse.js calls it): for the many runs after the first. */
const gatehouse = (args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> => runInProcess((a, io) => main(a, io), args, cwd, env);

/** A gateway.yaml an operator has before importing: where to listen, an API of its own, comments. The import appends to it. */
const OPERATOR_FILE = `# Our gateway: listeners on loopback for the tests.
version: 1
listen:
  http: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
apis:
  # Ours, before any import.
  - name: Status
    context: /status
    version: v1
    endpoints:
      production:
        url: http://127.0.0.1:9/status
`;
const OPERATOR_API = { name: 'Status', context: '/status', version: 'v1', endpoints: { production: { url: 'http://127.0.0.1:9/status' } } };

// ------------------------------------------------------------------ serving

interface Running {
  readonly url: string;
  readonly reload: () => Promise<string>;
  readonly logs: LogCapture;
}

async function serve(t: Test, configPath: string, env: Record<string, string> = {}): Promise<Running> {
  const logs = new LogCapture();
  const started = await startGateway({ configPath, env, logger: pino({ level: 'info' }, logs) });
  if (!started.gateway) throw new Error(`the imported configuration does not start:\n${formatText(started.diagnostics, path.dirname(configPath))}`);
  const { gateway } = started;
  t.teardown(() => gateway.stop());
  return { url: `http://127.0.0.1:${gateway.http.port}`, reload: async () => (await gateway.reloader.reloadNow('test')).kind, logs };
}

interface Answer {
  readonly backend?: number;
  readonly url?: string;
  readonly error?: { readonly code: string };
}

const answer = (response: Response): Answer => {
  try {
    return JSON.parse(response.text) as Answer;
  } catch {
    return {};
  }
};

/** A request through the gateway must reach `port`'s backend (and no other) at `url`. */
async function expectServed(t: Test, served: Served, gateway: Running, route: { path: string; method?: string; sandbox?: boolean }, port: number, url: string): Promise<void> {
  const before = new Map([...served.backends].map(([p, b]) => [p, b.requests.length]));
  const response = await request(gateway.url + route.path, { method: route.method ?? 'GET', ...(route.sandbox ? { headers: SANDBOX } : {}) });
  const what = `${route.method ?? 'GET'} ${route.path}${route.sandbox ? ' (sandbox)' : ''}`;
  t.equal(response.status, 200, `${what}: 200 ${response.text}`);
  t.same(answer(response), { backend: port, method: route.method ?? 'GET', url }, `${what}: answered by the backend of fixture port ${port}, at ${url}`);
  for (const [p, b] of served.backends) t.equal(b.requests.length - before.get(p)!, p === port ? 1 : 0, `${what}: ${p === port ? 'one request' : 'no request'} at the backend of ${p}`);
}

/**
 * A request that must fail TLS verification at `ports`' backends: a 502 with the code, their TCP
 * connections made (the gateway did go there) but not one request past the handshake.
 */
async function expectUntrusted(t: Test, served: Served, gateway: Running, route: { path: string; sandbox?: boolean }, ports: readonly number[]): Promise<void> {
  const requests = new Map([...served.backends].map(([p, b]) => [p, b.requests.length]));
  const connections = new Map([...served.backends].map(([p, b]) => [p, b.connections()]));
  const response = await request(gateway.url + route.path, route.sandbox ? { headers: SANDBOX } : {});
  const what = `GET ${route.path}${route.sandbox ? ' (sandbox)' : ''}`;
  t.equal(response.status, 502, `${what}: 502 ${response.text}`);
  t.equal(answer(response).error?.code, 'BACKEND_TLS_UNTRUSTED', `${what}: the backend's certificate is not trusted`);
  for (const port of ports) t.ok(served.backends.get(port)!.connections() > connections.get(port)!, `${what}: the gateway connected to the backend of ${port}`);
  for (const [p, b] of served.backends) t.equal(b.requests.length, requests.get(p), `${what}: no request reached the backend of ${p}`);
}

async function expectRefused(t: Test, gateway: Running, route: { path: string; method?: string; sandbox?: boolean }, status: 404 | 405, allow?: string): Promise<void> {
  const response = await request(gateway.url + route.path, { method: route.method ?? 'GET', ...(route.sandbox ? { headers: SANDBOX } : {}) });
  const what = `${route.method ?? 'GET'} ${route.path}`;
  t.equal(response.status, status, `${what}: ${status}`);
  t.equal(answer(response).error?.code, status === 404 ? 'NO_ROUTE' : 'METHOD_NOT_ALLOWED', `${what}: its code`);
  if (allow !== undefined) t.equal(response.headers.allow, allow, `${what}: Allow lists the definition's methods`);
}

// ------------------------------------------------------------------ one fixture, end to end

interface Imported {
  readonly result: CliResult;
  readonly out: string;
  readonly config: { version: number; listen: unknown; admin: unknown; apis: Record<string, unknown>[] };
  /** The imported entry (apis[1]). */
  readonly entry: Record<string, unknown>;
  readonly notCarried: NotCarried;
}

/** The import by the installed command into out/ (an operator's gateway.yaml there), its files checked; then validate. */
async function importFixture(
  t: Test,
  served: Served,
  source: string,
  args: readonly string[],
  expected: { entry: Record<string, unknown>; certificates: Record<string, string>; definition: { from: string; file: string } },
  env: Record<string, string> = {},
  options: { cliValidate?: boolean } = {},
): Promise<Imported> {
  const out = path.join(served.root, 'out');
  mkdirSync(out);
  writeFileSync(path.join(out, 'gateway.yaml'), OPERATOR_FILE);
  const result = await runCli(['import', 'wso2', source, '--out', 'out', ...args], { cwd: served.root });
  t.equal(result.code, 0, `import exits 0: ${result.stderr}`);
  t.equal(result.stderr, '', 'nothing on stderr');

  const text = readFileSync(path.join(out, 'gateway.yaml'), 'utf8');
  t.ok(text.startsWith(OPERATOR_FILE), 'the operator\'s file is kept byte for byte, comments included; the entry comes after its API');
  const config = parseYaml(text) as Imported['config'];
  t.same(config, { version: 1, listen: { http: '127.0.0.1:0' }, admin: { address: '127.0.0.1:0' }, apis: [OPERATOR_API, expected.entry] }, 'gateway.yaml: the operator\'s API, then the entry, exactly');

  // certs/<alias>.crt: each the certificate of its alias as the export held it, and nothing else.
  t.same(readdirSync(path.join(out, 'certs')).sort(), Object.keys(expected.certificates).map((a) => `${a}.crt`).sort(), 'certs/: one file per certificate an endpoint trusts');
  for (const [alias, from] of Object.entries(expected.certificates)) {
    const written = readFileSync(path.join(out, 'certs', `${alias}.crt`), 'utf8');
    t.match(written, /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+\n-----END CERTIFICATE-----\n$/, `certs/${alias}.crt: one PEM certificate`);
    t.equal(fingerprint(written), fingerprint(served.certificates.get(alias)!.certPem), `certs/${alias}.crt: the certificate its backend presents`);
    if (from.endsWith('.crt')) t.equal(written, readFileSync(path.join(served.root, from), 'utf8'), `certs/${alias}.crt: ${from} as it is`);
  }
  t.same(readdirSync(path.join(out, 'definitions')), [expected.definition.file], 'definitions/: the definition');
  t.equal(readFileSync(path.join(out, 'definitions', expected.definition.file), 'utf8'), readFileSync(path.join(served.root, expected.definition.from), 'utf8'), `definitions/${expected.definition.file}: ${expected.definition.from} as it is`);

  // The installed command once; then the same command line in this process (the time of a file is bounded).
  const validate = options.cliValidate ? await runCli(['validate', '-c', 'out/gateway.yaml'], { cwd: served.root, env }) : await gatehouse(['validate', '-c', 'out/gateway.yaml'], served.root, env);
  t.equal(validate.code, 0, `gatehouse validate exits 0: ${validate.stdout}${validate.stderr}`);
  t.match(validate.stdout, /^out\/gateway\.yaml: valid: 2 APIs, /m);

  // Running the same import again changes nothing: not a byte, not an mtime.
  const before = snapshot(out);
  const again = await gatehouse(['import', 'wso2', source, '--out', 'out', ...args], served.root, env);
  t.equal(again.code, 0, `the same import again exits 0: ${again.stderr}`);
  t.match(again.stdout, /^Nothing to do: /m, 'and says there is nothing to do');
  t.same(snapshot(out), before, 'every file byte-identical, mtimes unchanged');

  return { result, out, config, entry: config.apis[1]!, notCarried: notCarried(result.stdout) };
}

function expectNotCarried(t: Test, imported: Imported, wheres: readonly string[]): void {
  t.equal(imported.notCarried.count, wheres.length, `"Not carried over (${wheres.length})"`);
  t.same(
    imported.notCarried.items.map((i) => i.where),
    wheres,
    'the [where] of every item, in order',
  );
}

const whatAt = (imported: Imported, where: string): string[] => imported.notCarried.items.filter((i) => i.where === where).map((i) => i.what);

// Places of PizzaShackAPI-1.0.0's api.yaml the import cannot carry over, also listed for the deployment folder made from it.
const PIZZA_API_YAML = [
  'api.yaml data.transport',
  'api.yaml data.policies',
  'api.yaml data.authorizationHeader',
  'api.yaml data.securityScheme',
  'api.yaml data.corsConfiguration',
  'api.yaml data.scopes',
  'api.yaml data.keyManagers',
  'api.yaml data',
  'api.yaml data.operations[1]',
  'api.yaml data.operations[4]',
  'api.yaml data.operations[4]',
];

function expectPizzaApiYamlItems(t: Test, imported: Imported): void {
  t.match(whatAt(imported, 'api.yaml data.policies'), [/^subscription tiers \[Gold, Unlimited\]: /], 'subscription tiers named');
  t.match(whatAt(imported, 'api.yaml data.scopes'), [/^scopes \[order_manage\]: not checked/], 'the scope named');
  t.match(whatAt(imported, 'api.yaml data.operations[4]'), [/^DELETE \/order\/\{orderId\}: resource throttling tier 10KPerMin/, /^DELETE \/order\/\{orderId\}: scopes \[order_manage\]/], 'the resource\'s tier and scope');
  t.match(whatAt(imported, 'api.yaml data.operations[1]'), [/^GET \/menu: open resource \(auth type None\)/], 'the open resource');
  t.match(whatAt(imported, 'api.yaml data.corsConfiguration'), [/^CORS configuration/], 'CORS');
  t.match(whatAt(imported, 'api.yaml data.securityScheme'), [/the imported API is open until you give it security/], 'the security schemes, and that the API is open');
}

// ------------------------------------------------------------------ the fixtures

t.test('PizzaShackAPI-1.0.0 (4.x, http endpoints): entry, certificates, definition; served through verified TLS with the imported certificates', async (t) => {
  const served = await servable(t, ['PizzaShackAPI-1.0.0'], { 9443: 'pizzashack-prod', 9444: 'pizzashack-sandbox' });
  const u = (port: number) => `https://127.0.0.1:${served.real(port)}/am/sample/pizzashack/v1/api/`;
  const imported = await importFixture(t, served, 'PizzaShackAPI-1.0.0', [], {
    entry: {
      name: 'PizzaShackAPI',
      context: '/pizzashack',
      version: '1.0.0',
      endpoints: {
        production: { url: u(9443), certificate: 'pizzashack-prod', timeouts: { socket: '1m' } }, // actionDuration 60000
        sandbox: { url: u(9444), certificate: 'pizzashack-sandbox' },
      },
      resources: { openapi: './definitions/PizzaShackAPI-1.0.0.yaml' },
    },
    certificates: { 'pizzashack-prod': 'PizzaShackAPI-1.0.0/Endpoint-certificates/pizzashack-prod.crt', 'pizzashack-sandbox': 'PizzaShackAPI-1.0.0/Endpoint-certificates/pizzashack-sandbox.crt' },
    definition: { from: 'PizzaShackAPI-1.0.0/Definitions/swagger.yaml', file: 'PizzaShackAPI-1.0.0.yaml' },
  }, {}, { cliValidate: true });
  t.match(imported.result.stdout, /^Importing PizzaShackAPI 1\.0\.0 from the apictl 4\.x project PizzaShackAPI-1\.0\.0$/m);
  t.match(imported.result.stdout, /^ {2}\+ out\/certs\/pizzashack-prod\.crt {2}certificate pizzashack-prod \(from Endpoint-certificates\/pizzashack-prod\.crt\)$/m, 'the listing says where each file comes from');
  t.match(imported.result.stdout, /^Plan for out\/gateway\.yaml, compared with the file before the import:$/m, 'and prints the plan');
  t.match(imported.result.stdout, /^ {2}\+ PizzaShackAPI 1\.0\.0 {2}\(context \/pizzashack\)$/m);

  const production = 'api.yaml data.endpointConfig.production_endpoints.config';
  expectNotCarried(t, imported, [
    ...PIZZA_API_YAML,
    production,
    `${production}.suspendErrorCode`,
    `${production}.retryErroCode`,
    `${production}.retryTimeOut`,
    `${production}.retryDelay`,
    'deployment_environments.yaml',
  ]);
  expectPizzaApiYamlItems(t, imported);
  t.match(whatAt(imported, `${production}.retryTimeOut`), [/: 3 retries before suspension: not supported/], 'the retries');
  t.match(whatAt(imported, production), [/: suspension \(suspendDuration, factor, suspendMaxDuration\): .*a single endpoint is always tried/], 'suspension of a single endpoint');

  const gateway = await serve(t, path.join(imported.out, 'gateway.yaml'));
  await expectServed(t, served, gateway, { path: '/pizzashack/1.0.0/menu' }, 9443, '/am/sample/pizzashack/v1/api/menu');
  await expectServed(t, served, gateway, { path: '/pizzashack/1.0.0/order/42', method: 'PUT' }, 9443, '/am/sample/pizzashack/v1/api/order/42');
  await expectServed(t, served, gateway, { path: '/pizzashack/1.0.0/menu', sandbox: true }, 9444, '/am/sample/pizzashack/v1/api/menu');
  await expectServed(t, served, gateway, { path: '/pizzashack/1.0.0/order', method: 'POST', sandbox: true }, 9444, '/am/sample/pizzashack/v1/api/order');
  await expectRefused(t, gateway, { path: '/pizzashack/1.0.0/drinks' }, 404);
  await expectRefused(t, gateway, { path: '/pizzashack/1.0.0/menu', method: 'DELETE' }, 405, 'GET');
  await expectRefused(t, gateway, { path: '/pizzashack/menu' }, 404); // not the default version

  // Verification is on, with the imported certificate and no other: production trusting the
  // sandbox's certificate instead refuses the production backend; put back, it serves again.
  const prodCrt = path.join(imported.out, 'certs', 'pizzashack-prod.crt');
  const original = readFileSync(prodCrt, 'utf8');
  writeFileSync(prodCrt, readFileSync(path.join(imported.out, 'certs', 'pizzashack-sandbox.crt')));
  t.equal(await gateway.reload(), 'applied', 'the swapped certificate applied');
  await expectUntrusted(t, served, gateway, { path: '/pizzashack/1.0.0/menu' }, [9443]);
  await expectServed(t, served, gateway, { path: '/pizzashack/1.0.0/menu', sandbox: true }, 9444, '/am/sample/pizzashack/v1/api/menu');
  writeFileSync(prodCrt, original);
  t.equal(await gateway.reload(), 'applied');
  await expectServed(t, served, gateway, { path: '/pizzashack/1.0.0/menu' }, 9443, '/am/sample/pizzashack/v1/api/menu');
});

t.test('OrdersLB-2.1.0 (4.x, load_balance 3 + 2): round-robin targets, per-target timeouts, the one certificate on the target it was registered for', async (t) => {
  // 9445 and 9446 present the same certificate (the README: "same backend certificate as 9445, no
  // entry"), and so does 9448; 9447 and 9449 present one the export has no alias for.
  const served = await servable(t, ['OrdersLB-2.1.0'], { 9445: 'orders-backend', 9446: 'orders-backend', 9447: null, 9448: 'orders-backend', 9449: null });
  const u = (port: number) => `https://127.0.0.1:${served.real(port)}/orders-service`;
  const imported = await importFixture(t, served, 'OrdersLB-2.1.0', [], {
    entry: {
      name: 'OrdersLB',
      context: '/orders',
      version: '2.1.0',
      endpoints: {
        production: {
          balance: 'round-robin',
          // orders-backend was registered for 9445; the others trust it as WSO2's truststore did (and it is said).
          targets: [
            { url: u(9445), certificate: 'orders-backend', timeouts: { socket: '45s' } },
            { url: u(9446), certificate: 'orders-backend', timeouts: { socket: '20s' } },
            { url: u(9447), certificate: 'orders-backend' },
          ],
          // One suspension per group: the targets disagree, the last one's is taken (and said).
          suspend: { initial: '30s', factor: 2, max: '5m' },
        },
        sandbox: { balance: 'round-robin', targets: [{ url: u(9448), certificate: 'orders-backend' }, { url: u(9449), certificate: 'orders-backend' }] },
      },
      resources: { openapi: './definitions/OrdersLB-2.1.0.yaml' },
    },
    certificates: { 'orders-backend': 'OrdersLB-2.1.0/Endpoint-certificates/orders-backend.crt' },
    definition: { from: 'OrdersLB-2.1.0/Definitions/swagger.yaml', file: 'OrdersLB-2.1.0.yaml' },
  });

  const p = 'api.yaml data.endpointConfig.production_endpoints';
  expectNotCarried(t, imported, [
    'api.yaml data.transport',
    'api.yaml data.policies',
    'api.yaml data.authorizationHeader',
    'api.yaml data.securityScheme',
    'api.yaml data.apiPolicies',
    'api.yaml data.keyManagers',
    'api.yaml data',
    'api.yaml data.operations[1]',
    'api.yaml data.endpointConfig.sessionManagement',
    `${p}[0].config.suspendErrorCode`,
    `${p}[0].config.retryErroCode`,
    `${p}[0].config.retryTimeOut`,
    `${p}[0].config.retryDelay`,
    `${p}[1].config.actionSelect`,
    `${p}[1].config`,
    `${p}[1].config.suspendErrorCode`,
    'api.yaml data.endpointConfig.sandbox_endpoints[0].config.suspendDuration',
    `${p}[1]`,
    `${p}[2]`,
    'api.yaml data.endpointConfig.sandbox_endpoints[0]',
    'api.yaml data.endpointConfig.sandbox_endpoints[1]',
    'Policies/ordersCorrelationHeader_v1_api.j2',
    'Policies/ordersCorrelationHeader_v1_api.yaml',
    'Policies/ordersFaultLog_v1_api.j2',
    'Policies/ordersFaultLog_v1_api.yaml',
  ]);
  t.match(whatAt(imported, 'api.yaml data.policies'), [/^subscription tiers \[Silver, Unlimited\]/]);
  t.match(whatAt(imported, 'api.yaml data.apiPolicies'), [/^API policies \[request: ordersCorrelationHeader\]: no mediation/]);
  t.match(whatAt(imported, 'api.yaml data.operations[1]'), [/^POST \/orders: operation policies \[fault: ordersFaultLog\]/]);
  t.match(whatAt(imported, 'api.yaml data.endpointConfig.sessionManagement'), [/^session affinity \(http\): not supported/]);
  t.match(whatAt(imported, `${p}[0].config.retryTimeOut`), [/: 2 retries before suspension/]);
  t.match(whatAt(imported, `${p}[1].config`), [/its own suspend differs from the first target's, which the production group takes/]);
  t.match(whatAt(imported, 'Policies/ordersFaultLog_v1_api.j2'), [/^operation policy: no mediation/]);
  // The README's "swagger.yaml host, basePath — informative only": said by the plan, not the list.
  t.match(imported.result.stdout, /^ {6}not used for routing: host orders\.internal\.example\.com; basePath \/api\/v2$/m, 'the plan says host and basePath do not route');
  t.match(whatAt(imported, 'api.yaml data.endpointConfig.sandbox_endpoints[0].config.suspendDuration'), [/: suspension turned off \(suspendDuration 0\)/], 'suspension switched off for 9448 alone');
  // README: "The importer has to decide (and say) which targets get orders-backend".
  for (const at of [`${p}[1]`, `${p}[2]`, 'api.yaml data.endpointConfig.sandbox_endpoints[0]', 'api.yaml data.endpointConfig.sandbox_endpoints[1]']) {
    t.match(whatAt(imported, at), [/ had no endpoint certificate of its own: it trusts orders-backend, registered for its host on another port/], `${at}: says it trusts orders-backend`);
  }
  const gateway = await serve(t, path.join(imported.out, 'gateway.yaml'));
  await expectRefused(t, gateway, { path: '/orders/2.1.0/api/v2/orders' }, 404); // basePath is the backend's own
  await expectRefused(t, gateway, { path: '/orders/2.1.0/orders/7', method: 'PUT' }, 405, 'GET, DELETE');

  // Round-robin over 9445, 9446, 9447, all trusting orders-backend: 9445 and 9446 present it and
  // serve; 9447 presents another certificate and is refused (verification is on, per target).
  const served200 = new Map<number, number>();
  for (let i = 0; i < 6; i++) {
    const response = await request(`${gateway.url}/orders/2.1.0/orders/${i}`);
    const { backend, url, error } = answer(response);
    if (response.status === 200) {
      served200.set(backend!, (served200.get(backend!) ?? 0) + 1);
      t.equal(url, `/orders-service/orders/${i}`, `GET ${i}: at the target's path`);
    } else t.same([response.status, error?.code], [502, 'BACKEND_TLS_UNTRUSTED'], `GET ${i}: refused over TLS`);
  }
  t.same([...served200.keys()].sort(), [9445, 9446], `the 200s came from 9445 and 9446, round-robin (${JSON.stringify([...served200])})`);
  t.ok(served.backends.get(9447)!.connections() > 0, 'the gateway did try 9447');
  for (const port of [9447, 9448, 9449]) t.equal(served.backends.get(port)!.requests.length, 0, `${port}: no request`);
  // The sandbox group, the same way: 9448 serves, 9449 is refused at the handshake.
  for (let i = 0; i < 4; i++) {
    const response = await request(`${gateway.url}/orders/2.1.0/orders`, { headers: SANDBOX });
    if (response.status === 200) t.same(answer(response), { backend: 9448, method: 'GET', url: '/orders-service/orders' }, `sandbox GET ${i}: served by 9448`);
    else t.same([response.status, answer(response).error?.code], [502, 'BACKEND_TLS_UNTRUSTED'], `sandbox GET ${i}: refused over TLS`);
  }
  t.ok(served.backends.get(9448)!.requests.length > 0, 'the sandbox served by 9448');
  t.ok(served.backends.get(9449)!.connections() > 0, 'the gateway did try 9449');
  t.equal(served.backends.get(9449)!.requests.length, 0, '9449: no request past the TLS handshake');
});

t.test('InventoryFailover-1.0.0 (4.x, failover, default version): primary then failovers, timeouts, suspension', async (t) => {
  // 9451 and 9454 present the primary's certificate (the only one the export has); 9452 and 9453 another.
  const served = await servable(t, ['InventoryFailover-1.0.0'], { 9450: 'inventory-primary', 9451: 'inventory-primary', 9452: null, 9453: null, 9454: 'inventory-primary' });
  const u = (port: number) => `https://127.0.0.1:${served.real(port)}/inventory/v1`;
  const imported = await importFixture(t, served, 'InventoryFailover-1.0.0', [], {
    entry: {
      name: 'InventoryFailover',
      context: '/inventory',
      version: '1.0.0',
      default: true,
      endpoints: {
        production: {
          balance: 'failover',
          // api.yaml's order (primary, then production_failovers), not swagger.yaml's.
          targets: [
            { url: u(9450), certificate: 'inventory-primary', timeouts: { socket: '30s' } },
            { url: u(9451), certificate: 'inventory-primary', timeouts: { socket: '10s' } },
            { url: u(9452), certificate: 'inventory-primary' },
          ],
          suspend: { factor: 1, max: '1m' },
        },
        sandbox: { balance: 'failover', targets: [{ url: u(9453), certificate: 'inventory-primary' }, { url: u(9454), certificate: 'inventory-primary', timeouts: { socket: '15s' } }] },
      },
      resources: { openapi: './definitions/InventoryFailover-1.0.0.yaml' },
    },
    certificates: { 'inventory-primary': 'InventoryFailover-1.0.0/Endpoint-certificates/inventory-primary.crt' },
    definition: { from: 'InventoryFailover-1.0.0/Definitions/swagger.yaml', file: 'InventoryFailover-1.0.0.yaml' },
  });
  // 9450 says factor 1 and max 60 s (initial -1); 9451 says initial 15 s, max 45 s and no factor.
  // The group takes the first target's (the primary's), and the listing says 9451's differs.
  t.same((imported.entry as { endpoints: { production: { suspend: unknown } } }).endpoints.production.suspend, { factor: 1, max: '1m' }, 'the group takes the primary\'s suspension, as the message says');

  const p = 'api.yaml data.endpointConfig.production_endpoints.config';
  const f = 'api.yaml data.endpointConfig.production_failovers[0].config';
  expectNotCarried(t, imported, [
    'api.yaml data.transport',
    'api.yaml data.policies',
    'api.yaml data.apiThrottlingPolicy',
    'api.yaml data.authorizationHeader',
    'api.yaml data.securityScheme',
    'api.yaml data.mediationPolicies',
    'api.yaml data.keyManagers',
    'api.yaml data',
    'api.yaml data.operations[0]',
    'api.yaml data.operations[1]',
    'api.yaml data.operations[2]',
    'api.yaml data.operations[3]',
    'api.yaml data.operations[4]',
    `${p}.suspendDuration`,
    `${p}.suspendErrorCode`,
    `${p}.retryErroCode`,
    `${p}.retryTimeOut`,
    `${p}.retryDelay`,
    `${f}.actionSelect`,
    f,
    `${f}.suspendErrorCode`,
    'api.yaml data.endpointConfig.sandbox_endpoints.config.actionSelect',
    'api.yaml data.endpointConfig.production_failovers[0]',
    'api.yaml data.endpointConfig.production_failovers[1]',
    'api.yaml data.endpointConfig.sandbox_endpoints',
    'api.yaml data.endpointConfig.sandbox_failovers[0]',
    'Sequences/fault-sequence/Custom/inventory-fault-json.xml',
    'Sequences/in-sequence/log_in_message.xml',
    'deployment_environments.yaml',
  ]);
  t.match(whatAt(imported, 'api.yaml data.mediationPolicies'), [/^mediation sequences \[log_in_message, inventory-fault-json\]: no mediation/]);
  t.match(whatAt(imported, 'api.yaml data.apiThrottlingPolicy'), [/^API-level throttling policy \[50KPerMin\]/]);
  t.match(whatAt(imported, 'api.yaml data.policies'), [/^subscription tiers \[Bronze, Unlimited\]/]);
  t.match(whatAt(imported, 'Sequences/in-sequence/log_in_message.xml'), [/^mediation sequence: no mediation/]);
  t.match(whatAt(imported, `${p}.retryTimeOut`), [/: 1 retries before suspension/]);
  t.match(whatAt(imported, 'api.yaml data'), [/visibility, visibleRoles/], 'the restricted visibility, with the portal metadata');
  t.match(whatAt(imported, 'api.yaml data.endpointConfig.sandbox_endpoints.config.actionSelect'), [/: never time out: Gatehouse always bounds the wait/], 'neverTimeout (9453)');
  t.match(whatAt(imported, 'api.yaml data.endpointConfig.production_failovers[1]'), [/ had no endpoint certificate of its own: it trusts inventory-primary/], 'the failovers, which the export gives no certificate, said');
  // The README lists the primary's suspendDuration "-1"; the command says nothing of it.
  t.ok(
    imported.notCarried.items.some((i) => i.where.startsWith(p) && /suspendDuration|-1/.test(i.where + i.what)),
    'the primary\'s suspendDuration "-1" is listed'
  );

  const gateway = await serve(t, path.join(imported.out, 'gateway.yaml'));
  await expectServed(t, served, gateway, { path: '/inventory/1.0.0/items' }, 9450, '/inventory/v1/items');
  await expectServed(t, served, gateway, { path: '/inventory/items/sku-1' }, 9450, '/inventory/v1/items/sku-1'); // the default version
  await expectServed(t, served, gateway, { path: '/inventory/1.0.0/items/sku-1/stock', method: 'PUT' }, 9450, '/inventory/v1/items/sku-1/stock');
  await expectRefused(t, gateway, { path: '/inventory/1.0.0/stock' }, 404);
  await expectRefused(t, gateway, { path: '/inventory/1.0.0/items/sku-1', method: 'DELETE' }, 405, 'GET');
  // The sandbox's primary 9453 presents a certificate the import does not trust: refused at the
  // handshake (a connection, no request), the GET goes on to the failover 9454.
  const connections = served.backends.get(9453)!.connections();
  await expectServed(t, served, gateway, { path: '/inventory/1.0.0/warehouses', sandbox: true }, 9454, '/inventory/v1/warehouses');
  t.ok(served.backends.get(9453)!.connections() > connections, 'the sandbox primary was tried first');
  // The production primary gone, its first failover serves.
  const primary = served.backends.get(9450)!;
  primary.server.closeAllConnections();
  await new Promise<void>((resolve) => primary.server.close(() => resolve()));
  await expectServed(t, served, gateway, { path: '/inventory/1.0.0/items' }, 9451, '/inventory/v1/items');
});

/** The deployment folder with the project beside it (api_meta.yaml names it), as apictl gen deployment-dir leaves them. */
const DEPLOYMENT = ['DeploymentArtifacts_PizzaShackAPI-1.0.0', 'PizzaShackAPI-1.0.0'];
const DEPLOYMENT_PORTS: PortTable = { 9443: 'pizzashack-prod', 9444: 'pizzashack-sandbox', 9455: 'pizzashack-dev-prod', 9456: 'pizzashack-dev-sandbox' };
/** prod's ${PIZZA_PROD_URL} and ${PIZZA_SANDBOX_URL}: the README's test values, ports no file names. */
const DEPLOYMENT_VARIABLES: PortTable = { 9457: 'pizzashack-live-prod', 9458: 'pizzashack-live-sandbox' };

t.test('DeploymentArtifacts_PizzaShackAPI-1.0.0 --env dev: params.yaml replaces the endpoints and their certificates', async (t) => {
  const served = await servable(t, DEPLOYMENT, DEPLOYMENT_PORTS, DEPLOYMENT_VARIABLES);
  const u = (port: number) => `https://127.0.0.1:${served.real(port)}/am/sample/pizzashack/v1/api/`;
  const imported = await importFixture(t, served, 'DeploymentArtifacts_PizzaShackAPI-1.0.0', ['--env', 'dev'], {
    entry: {
      name: 'PizzaShackAPI',
      context: '/pizzashack',
      version: '1.0.0',
      endpoints: {
        production: { url: u(9455), certificate: 'pizzashack-dev-prod', timeouts: { socket: '1m' } },
        sandbox: { url: u(9456), certificate: 'pizzashack-dev-sandbox' },
      },
      resources: { openapi: './definitions/PizzaShackAPI-1.0.0.yaml' },
    },
    // The project's own certificates are not written: no endpoint of the environment uses them.
    certificates: { 'pizzashack-dev-prod': 'DeploymentArtifacts_PizzaShackAPI-1.0.0/certificates/pizzashack-dev-prod.crt', 'pizzashack-dev-sandbox': 'DeploymentArtifacts_PizzaShackAPI-1.0.0/certificates/pizzashack-dev-sandbox.crt' },
    definition: { from: 'PizzaShackAPI-1.0.0/Definitions/swagger.yaml', file: 'PizzaShackAPI-1.0.0.yaml' },
  });
  t.match(imported.result.stdout, /from the apictl 4\.x project PizzaShackAPI-1\.0\.0 and the deployment folder DeploymentArtifacts_PizzaShackAPI-1\.0\.0 with environment "dev"/);
  const e = 'params.yaml environments[0].configs';
  expectNotCarried(t, imported, [
    ...PIZZA_API_YAML,
    `${e}.deploymentEnvironments`,
    `${e}.policies`,
    `${e}.endpoints.production.config`,
    `${e}.endpoints.production.config.suspendErrorCode`,
    `${e}.endpoints.production.config.retryErroCode`,
    `${e}.endpoints.production.config.retryTimeOut`,
    `${e}.endpoints.production.config.retryDelay`,
    'Endpoint-certificates/endpoint_certificates.yaml data[0]',
    'Endpoint-certificates/endpoint_certificates.yaml data[1]',
    'deployment_environments.yaml',
  ]);
  expectPizzaApiYamlItems(t, imported);
  t.match(whatAt(imported, 'Endpoint-certificates/endpoint_certificates.yaml data[1]'), [/^certificate pizzashack-prod was registered for .*, an endpoint of the project that environment "dev" replaces: not written/]);
  t.match(whatAt(imported, `${e}.policies`), [/^subscription tiers and policies/]);

  const gateway = await serve(t, path.join(imported.out, 'gateway.yaml'));
  await expectServed(t, served, gateway, { path: '/pizzashack/1.0.0/menu' }, 9455, '/am/sample/pizzashack/v1/api/menu');
  await expectServed(t, served, gateway, { path: '/pizzashack/1.0.0/menu', sandbox: true }, 9456, '/am/sample/pizzashack/v1/api/menu');
  await expectRefused(t, gateway, { path: '/pizzashack/1.0.0/order/1', method: 'PATCH' }, 405, 'GET, PUT, DELETE');
});

t.test('DeploymentArtifacts_PizzaShackAPI-1.0.0 --env prod: ${VAR}s stay ${VAR}s, and the gateway run with them set serves through the params.yaml certificates', async (t) => {
  const served = await servable(t, DEPLOYMENT, DEPLOYMENT_PORTS, DEPLOYMENT_VARIABLES);
  const u = (port: number) => `https://127.0.0.1:${served.real(port)}/am/sample/pizzashack/v1/api/`;
  const env = { PIZZA_PROD_URL: u(9457), PIZZA_SANDBOX_URL: u(9458) };
  const imported = await importFixture(
    t,
    served,
    'DeploymentArtifacts_PizzaShackAPI-1.0.0',
    ['--env', 'prod'],
    {
      entry: {
        name: 'PizzaShackAPI',
        context: '/pizzashack',
        version: '1.0.0',
        endpoints: {
          production: { url: '${PIZZA_PROD_URL}', certificate: 'pizzashack-live-prod', timeouts: { socket: '1m30s' } },
          sandbox: { url: '${PIZZA_SANDBOX_URL}', certificate: 'pizzashack-live-sandbox' },
        },
        resources: { openapi: './definitions/PizzaShackAPI-1.0.0.yaml' },
      },
      certificates: {
        'pizzashack-live-prod': 'DeploymentArtifacts_PizzaShackAPI-1.0.0/certificates/pizzashack-live-prod.crt',
        'pizzashack-live-sandbox': 'DeploymentArtifacts_PizzaShackAPI-1.0.0/certificates/pizzashack-live-sandbox.crt',
      },
      definition: { from: 'PizzaShackAPI-1.0.0/Definitions/swagger.yaml', file: 'PizzaShackAPI-1.0.0.yaml' },
    },
    env,
  );
  t.match(imported.result.stdout, /^Set PIZZA_PROD_URL, PIZZA_SANDBOX_URL before `gatehouse run`/m, 'the command says which variables to set');
  t.notMatch(readFileSync(path.join(imported.out, 'gateway.yaml'), 'utf8'), /PIZZA_PROD_BACKEND_PASSWORD|pizzashack-gateway/, 'the backend credentials are not written');
  const e = 'params.yaml environments[1].configs';
  expectNotCarried(t, imported, [
    ...PIZZA_API_YAML,
    `${e}.security`,
    `${e}.deploymentEnvironments`,
    `${e}.policies`,
    `${e}.endpoints.production.config.actionSelect`,
    `${e}.endpoints.production.config`,
    `${e}.endpoints.production.config.retryTimeOut`,
    `${e}.endpoints.production.config.retryDelay`,
    'Endpoint-certificates/endpoint_certificates.yaml data[0]',
    'Endpoint-certificates/endpoint_certificates.yaml data[1]',
    'deployment_environments.yaml',
  ]);
  t.match(whatAt(imported, `${e}.security`), [/^endpoint security \(credentials towards the backend\): not carried over/]);
  t.match(whatAt(imported, `${e}.endpoints.production.config.retryTimeOut`), [/retryTimeOut \$\{PIZZA_PROD_RETRIES\} comes from a variable/]);

  // Without the variables, validate says which are unset.
  const unset = await gatehouse(['validate', '-c', 'out/gateway.yaml'], served.root);
  t.equal(unset.code, 1);
  t.match(unset.stdout, /environment variable PIZZA_PROD_URL is not set/);

  const gateway = await serve(t, path.join(imported.out, 'gateway.yaml'), env);
  await expectServed(t, served, gateway, { path: '/pizzashack/1.0.0/menu' }, 9457, '/am/sample/pizzashack/v1/api/menu');
  await expectServed(t, served, gateway, { path: '/pizzashack/1.0.0/menu', sandbox: true }, 9458, '/am/sample/pizzashack/v1/api/menu');
  await expectRefused(t, gateway, { path: '/pizzashack/1.0.0/drinks', sandbox: true }, 404);
  // The production URL pointed at the sandbox's backend: production trusts pizzashack-live-prod only.
  const crossed = await serve(t, path.join(imported.out, 'gateway.yaml'), { ...env, PIZZA_PROD_URL: u(9458) });
  await expectUntrusted(t, served, crossed, { path: '/pizzashack/1.0.0/menu' }, [9458]);
});

const LEGACY = ['legacy-3.x/PizzaShackAPI-1.0.0'];
const LEGACY_PORTS: PortTable = { 9459: 'legacy-prod', 9460: 'legacy-sandbox', 9461: 'legacy-dev-prod', 9462: null, 9463: 'legacy-live-prod', 9464: 'legacy-live-sandbox' };
const LEGACY_API_YAML = ['Meta-information/api.yaml availableTiers', 'Meta-information/api.yaml transports', 'Meta-information/api.yaml corsConfiguration', 'Meta-information/api.yaml authorizationHeader', 'Meta-information/api.yaml apiSecurity', 'Meta-information/api.yaml top level'];

function expectLegacyGaps(t: Test, imported: Imported): void {
  // 3.x keeps scopes in the definition only (api.yaml scopes: []): Meta-information/swagger.yaml
  // paths./order/{orderId}.delete.security[0].default [order_manage] (README).
  t.match(imported.result.stdout, /order_manage/, 'the scope order_manage is listed');
  // apiSecurity is 3.x's securityScheme: the imported API is open.
  t.ok(
    imported.notCarried.items.some((i) => i.where === 'Meta-information/api.yaml apiSecurity' && /open/.test(i.what)),
    'apiSecurity (oauth2, …) is listed as security, with the warning that the API is open'
  );
}

t.test('legacy-3.x/PizzaShackAPI-1.0.0 --env dev (api_params.yaml): context without the version, inline certificates replaced by the environment\'s', async (t) => {
  const served = await servable(t, LEGACY, LEGACY_PORTS);
  const u = (port: number) => `https://127.0.0.1:${served.real(port)}/am/sample/pizzashack/v1/api/`;
  const imported = await importFixture(t, served, 'legacy-3.x/PizzaShackAPI-1.0.0', ['--env', 'dev'], {
    entry: {
      name: 'PizzaShackAPI',
      context: '/pizzashack', // /pizzashack/1.0.0 in the export
      version: '1.0.0',
      endpoints: {
        production: { url: u(9461), certificate: 'legacy-dev-prod', timeouts: { socket: '30s' } },
        // dev names no certificate for 9462: it trusts those dev gives its host (not the project's, which dev replaced).
        sandbox: { url: u(9462), certificate: 'legacy-dev-prod' },
      },
      resources: { openapi: './definitions/PizzaShackAPI-1.0.0.yaml' },
    },
    certificates: {
      'legacy-dev-prod': 'legacy-3.x/PizzaShackAPI-1.0.0/certs/legacy-dev-prod.crt',
    },
    definition: { from: 'legacy-3.x/PizzaShackAPI-1.0.0/Meta-information/swagger.yaml', file: 'PizzaShackAPI-1.0.0.yaml' },
  });
  t.match(imported.result.stdout, /from the apictl 3\.x project PizzaShackAPI-1\.0\.0 with environment "dev" of (its )?api_params\.yaml/);
  const e = 'api_params.yaml environments[0]';
  expectNotCarried(t, imported, [
    ...LEGACY_API_YAML,
    `${e}.gatewayEnvironments`,
    `${e}.endpoints.production.config`,
    `${e}.endpoints.production.config.suspendErrorCode`,
    `${e}.endpoints.production.config.retryErroCode`, // api.yaml's, kept by the 3.x merge
    `${e}.endpoints.production.config.retryTimeOut`,
    `${e}.endpoints.production.config.retryDelay`,
    `${e}.endpoints.sandbox`,
    'Meta-information/endpoint_certificates.yaml [0]',
    'Meta-information/endpoint_certificates.yaml [1]',
    'Meta-information/swagger.yaml paths["/order/{orderId}"].delete',
  ]);
  t.match(whatAt(imported, 'Meta-information/api.yaml availableTiers'), [/^subscription tiers \[Gold, Unlimited\]/]);
  t.match(whatAt(imported, `${e}.endpoints.sandbox`), [/ had no endpoint certificate of its own: it trusts legacy-dev-prod, registered for its host on another port/]);
  // 3.x apictl rewrites Meta-information/endpoint_certificates.yaml from the environment's certs
  // (README, FORMATS §9): with dev, WSO2 gets legacy-dev-prod only, not the project's two.
  t.same(
    (imported.entry as { endpoints: { sandbox: { certificate?: unknown } } }).endpoints.sandbox.certificate,
    'legacy-dev-prod',
    'the sandbox does not trust the certificates of the project endpoints the environment replaced'
  );
  expectLegacyGaps(t, imported);
  // 3.x apictl merges an environment into endpointConfig key by key: dev's production config keeps
  // api.yaml's retryErroCode ["101504"] (README), which Gatehouse does not do either.
  t.ok(
    imported.notCarried.items.some((i) => i.where.endsWith('.retryErroCode')),
    'retryErroCode, kept from api.yaml by the 3.x merge, is listed'
  );

  const gateway = await serve(t, path.join(imported.out, 'gateway.yaml'));
  await expectServed(t, served, gateway, { path: '/pizzashack/1.0.0/menu' }, 9461, '/am/sample/pizzashack/v1/api/menu');
  await expectRefused(t, gateway, { path: '/pizzashack/1.0.0/1.0.0/menu' }, 404); // the version is not in the context twice
  // dev gives the sandbox (9462) no certificate: it trusts the system roots only.
  await expectUntrusted(t, served, gateway, { path: '/pizzashack/1.0.0/menu', sandbox: true }, [9462]);
});

t.test('legacy-3.x/PizzaShackAPI-1.0.0 --env prod (api_params.yaml): both endpoints with the environment\'s certificates', async (t) => {
  const served = await servable(t, LEGACY, LEGACY_PORTS);
  const u = (port: number) => `https://127.0.0.1:${served.real(port)}/am/sample/pizzashack/v1/api/`;
  const imported = await importFixture(t, served, 'legacy-3.x/PizzaShackAPI-1.0.0', ['--env', 'prod'], {
    entry: {
      name: 'PizzaShackAPI',
      context: '/pizzashack',
      version: '1.0.0',
      endpoints: {
        production: { url: u(9463), certificate: 'legacy-live-prod', timeouts: { socket: '1m30s' } },
        sandbox: { url: u(9464), certificate: 'legacy-live-sandbox' },
      },
      resources: { openapi: './definitions/PizzaShackAPI-1.0.0.yaml' },
    },
    certificates: { 'legacy-live-prod': 'legacy-3.x/PizzaShackAPI-1.0.0/certs/legacy-live-prod.crt', 'legacy-live-sandbox': 'legacy-3.x/PizzaShackAPI-1.0.0/certs/legacy-live-sandbox.crt' },
    definition: { from: 'legacy-3.x/PizzaShackAPI-1.0.0/Meta-information/swagger.yaml', file: 'PizzaShackAPI-1.0.0.yaml' },
  });
  const e = 'api_params.yaml environments[1]';
  expectNotCarried(t, imported, [
    ...LEGACY_API_YAML,
    `${e}.gatewayEnvironments`,
    `${e}.policies`,
    `${e}.endpoints.production.config.actionSelect`,
    `${e}.endpoints.production.config`,
    `${e}.endpoints.production.config.suspendErrorCode`, // api.yaml's, kept by the 3.x merge
    `${e}.endpoints.production.config.retryErroCode`,
    `${e}.endpoints.production.config.retryTimeOut`,
    `${e}.endpoints.production.config.retryDelay`,
    'Meta-information/endpoint_certificates.yaml [0]',
    'Meta-information/endpoint_certificates.yaml [1]',
    'Meta-information/swagger.yaml paths["/order/{orderId}"].delete',
  ]);
  t.match(whatAt(imported, `${e}.policies`), [/^subscription tiers and policies/]);
  t.match(whatAt(imported, `${e}.endpoints.production.config.retryTimeOut`), [/: 5 retries before suspension/]);
  expectLegacyGaps(t, imported);

  const gateway = await serve(t, path.join(imported.out, 'gateway.yaml'));
  await expectServed(t, served, gateway, { path: '/pizzashack/1.0.0/order/9' }, 9463, '/am/sample/pizzashack/v1/api/order/9');
  await expectServed(t, served, gateway, { path: '/pizzashack/1.0.0/order/9', method: 'DELETE', sandbox: true }, 9464, '/am/sample/pizzashack/v1/api/order/9');
  await expectRefused(t, gateway, { path: '/pizzashack/1.0.0/menu', method: 'PUT' }, 405, 'GET');
});

t.test('legacy-3.x with no api_params.yaml: the inline base64 certificates of Meta-information/ serve', async (t) => {
  const served = await servable(t, LEGACY, LEGACY_PORTS);
  const project = path.join(served.root, 'legacy-3.x/PizzaShackAPI-1.0.0');
  // Without its api_params.yaml (and the certs/ it names), the project is api.yaml's endpoints
  // and the inline certificates; the rest of the copy is as above.
  rmSync(path.join(project, 'api_params.yaml'));
  rmSync(path.join(project, 'certs'), { recursive: true });
  mkdirSync(path.join(served.root, 'out'));
  writeFileSync(path.join(served.root, 'out', 'gateway.yaml'), OPERATOR_FILE);
  const result = await gatehouse(['import', 'wso2', 'legacy-3.x/PizzaShackAPI-1.0.0', '--out', 'out'], served.root);
  t.equal(result.code, 0, result.stderr);
  const u = (port: number) => `https://127.0.0.1:${served.real(port)}/am/sample/pizzashack/v1/api/`;
  const config = parseYaml(readFileSync(path.join(served.root, 'out', 'gateway.yaml'), 'utf8')) as Imported['config'];
  t.same(config.apis[1]!.endpoints, { production: { url: u(9459), certificate: 'legacy-prod', timeouts: { socket: '1m' } }, sandbox: { url: u(9460), certificate: 'legacy-sandbox' } });
  for (const alias of ['legacy-prod', 'legacy-sandbox']) {
    t.equal(fingerprint(readFileSync(path.join(served.root, 'out', 'certs', `${alias}.crt`))), fingerprint(served.certificates.get(alias)!.certPem), `certs/${alias}.crt: the inline base64 DER as PEM`);
  }
  const gateway = await serve(t, path.join(served.root, 'out', 'gateway.yaml'));
  await expectServed(t, served, gateway, { path: '/pizzashack/1.0.0/menu' }, 9459, '/am/sample/pizzashack/v1/api/menu');
  await expectServed(t, served, gateway, { path: '/pizzashack/1.0.0/menu', sandbox: true }, 9460, '/am/sample/pizzashack/v1/api/menu');
});

// ------------------------------------------------------------------ what the command refuses, keeps, or leaves alone

/** The PizzaShackAPI-1.0.0 export as it is (nothing is served here), in a test folder. */
function pizzaCopy(t: Test, files: Parameters<Test['testdir']>[0] = {}): string {
  const root = t.testdir(files);
  cpSync(path.join(FIXTURES, 'PizzaShackAPI-1.0.0'), path.join(root, 'PizzaShackAPI-1.0.0'), { recursive: true });
  return root;
}

const pizza = (root: string, ...args: string[]): Promise<CliResult> => gatehouse(['import', 'wso2', 'PizzaShackAPI-1.0.0', '--out', 'out', ...args], root);

t.test('into a new gateway.yaml: the file the import writes, and the plan of a new file', async (t) => {
  const root = pizzaCopy(t);
  const result = await pizza(root);
  t.equal(result.code, 0, result.stderr);
  const text = readFileSync(path.join(root, 'out', 'gateway.yaml'), 'utf8');
  t.match(text, /^# Written by `gatehouse import wso2`; docs\/configuration\.md describes every key\.\n/, 'a comment says where it comes from');
  t.same(parseYaml(text), {
    version: 1,
    apis: [
      {
        name: 'PizzaShackAPI',
        context: '/pizzashack',
        version: '1.0.0',
        endpoints: {
          production: { url: 'https://localhost:9443/am/sample/pizzashack/v1/api/', certificate: 'pizzashack-prod', timeouts: { socket: '1m' } },
          sandbox: { url: 'https://localhost:9444/am/sample/pizzashack/v1/api/', certificate: 'pizzashack-sandbox' },
        },
        resources: { openapi: './definitions/PizzaShackAPI-1.0.0.yaml' },
      },
    ],
  });
  t.match(text, /\napis:\n {2}- name: PizzaShackAPI\n/, 'in block style');
  t.same(snapshot(path.join(root, 'out')).folders, ['certs', 'definitions']);
  t.same(Object.keys(snapshot(path.join(root, 'out')).files).sort(), ['certs/pizzashack-prod.crt', 'certs/pizzashack-sandbox.crt', 'definitions/PizzaShackAPI-1.0.0.yaml', 'gateway.yaml']);
  t.match(result.stdout, /^ {2}\+ out\/gateway\.yaml {2}PizzaShackAPI 1\.0\.0 added to a new file$/m);
  t.match(result.stdout, /^Plan for out\/gateway\.yaml, compared with nothing \(a new file\): everything would be created:$/m);
  t.match(result.stdout, /^APIs: 1 to add, 0 to remove, 0 to change; endpoints: 2 to add, 0 to remove, 0 to change; certificate files: 2 to add, 0 to remove, 0 to change\.$/m);

  const before = snapshot(path.join(root, 'out'));
  const again = await pizza(root);
  t.equal(again.code, 0);
  t.match(again.stdout, /^ {2}= out\/gateway\.yaml {2}PizzaShackAPI 1\.0\.0 already in the file$/m, 'each file listed as unchanged');
  t.match(again.stdout, /^Nothing to do: PizzaShackAPI 1\.0\.0 is imported already, and every file is as the import would write it\.$/m);
  t.notMatch(again.stdout, /^Plan for /m, 'no plan: nothing changes');
  t.same(snapshot(path.join(root, 'out')), before, 'not a byte, not an mtime');
});

t.test('an existing API is not overwritten without --force; with it, the entry is the import\'s again, and the rest of the file stays', async (t) => {
  const root = pizzaCopy(t, { out: { 'gateway.yaml': OPERATOR_FILE } });
  const config = path.join(root, 'out', 'gateway.yaml');
  t.equal((await pizza(root)).code, 0);
  const imported = readFileSync(config, 'utf8');
  const importedEntry = (parseYaml(imported) as Imported['config']).apis[1];

  // The operator edits the imported entry.
  writeFileSync(config, imported.replace('url: https://localhost:9443/am/sample/pizzashack/v1/api/', 'url: https://pizza.internal:9443/api/'));
  const edited = snapshot(path.join(root, 'out'));
  const refused = await pizza(root);
  t.equal(refused.code, 1, 'refused');
  t.equal(refused.stdout, '');
  t.match(refused.stderr, /^gatehouse import: nothing was written:\n {2}apis\[1\] \(PizzaShackAPI 1\.0\.0\) exists and differs from the import\nCompare them, then run again with --force to replace them\.\n$/, 'naming the entry');
  t.same(snapshot(path.join(root, 'out')), edited, 'nothing written: every file as it was, mtimes too');
  const dry = await pizza(root, '--dry-run');
  t.equal(dry.code, 1, '--dry-run says the same');
  t.same(snapshot(path.join(root, 'out')), edited);

  const forced = await pizza(root, '--force');
  t.equal(forced.code, 0, forced.stderr);
  t.match(forced.stdout, /^ {2}~ out\/gateway\.yaml {2}PizzaShackAPI 1\.0\.0 replaced in the file$/m);
  t.match(forced.stdout, /^ {2}~ PizzaShackAPI 1\.0\.0 production\n {6}url: "https:\/\/pizza\.internal:9443\/api\/" → "https:\/\/localhost:9443\/am\/sample\/pizzashack\/v1\/api\/"$/m, 'the plan shows the url changed back');
  const after = readFileSync(config, 'utf8');
  t.same((parseYaml(after) as Imported['config']).apis, [OPERATOR_API, importedEntry], 'the entry is the import\'s again; the other API is kept');
  t.ok(after.startsWith(OPERATOR_FILE), 'the operator\'s lines and comments, byte for byte');
  t.equal(after, imported, 'the file is as the first import wrote it');

  // A certificate file that differs is not replaced without --force either.
  const crt = path.join(root, 'out', 'certs', 'pizzashack-prod.crt');
  const original = readFileSync(crt, 'utf8');
  const other = issue({ cn: 'someone-else', sans: ['localhost'] });
  writeFileSync(crt, other.certPem);
  const changed = snapshot(path.join(root, 'out'));
  const refusedCrt = await pizza(root);
  t.equal(refusedCrt.code, 1);
  t.match(refusedCrt.stderr, /^ {2}out\/certs\/pizzashack-prod\.crt exists and differs \(certificate pizzashack-prod \(from Endpoint-certificates\/pizzashack-prod\.crt\)\)$/m, 'naming the file');
  t.same(snapshot(path.join(root, 'out')), changed, 'nothing written');
  const forcedCrt = await pizza(root, '--force');
  t.equal(forcedCrt.code, 0, forcedCrt.stderr);
  t.equal(readFileSync(crt, 'utf8'), original, 'the export\'s certificate again');
  t.equal(readFileSync(config, 'utf8'), imported, 'gateway.yaml untouched');
});

t.test('--dry-run lists what would be written and writes nothing', async (t) => {
  const root = pizzaCopy(t);
  const dry = await pizza(root, '--dry-run');
  t.equal(dry.code, 0, dry.stderr);
  t.match(dry.stdout, /^ {2}\+ out\/certs\/pizzashack-prod\.crt /m);
  t.match(dry.stdout, /^Not carried over \(17\)/m, 'and what is not carried over');
  t.match(dry.stdout, /^--dry-run: 4 files would be written; nothing was\.$/m);
  t.notOk(existsSync(path.join(root, 'out')), 'not even the folder');

  const existing = pizzaCopy(t, { out: { 'gateway.yaml': OPERATOR_FILE } });
  const before = snapshot(path.join(existing, 'out'));
  const dryExisting = await pizza(existing, '--dry-run');
  t.equal(dryExisting.code, 0);
  t.match(dryExisting.stdout, /^ {2}~ out\/gateway\.yaml {2}PizzaShackAPI 1\.0\.0 added to the file$/m);
  t.same(snapshot(path.join(existing, 'out')), before, 'the existing file untouched');
});

t.test('into a gateway.yaml of other APIs and comments: the entry appended, the rest kept', async (t) => {
  // Another style than the import's (sequence not indented, a trailing comment): the APIs and
  // comments are kept; the text around them is rewritten in yaml's layout.
  const other = `version: 1
# the shop, by hand
apis:
- name: Shop   # mine
  context: /shop
  version: "1.0"
  endpoints:
    production: { url: "http://127.0.0.1:1/x" }
# trailing comment
`;
  const root = pizzaCopy(t, { out: { 'gateway.yaml': other } });
  const result = await pizza(root);
  t.equal(result.code, 0, result.stderr);
  const text = readFileSync(path.join(root, 'out', 'gateway.yaml'), 'utf8');
  const apis = (parseYaml(text) as Imported['config']).apis;
  t.same(apis.map((a) => a.name), ['Shop', 'PizzaShackAPI'], 'appended after the other API');
  t.same(apis[0], { name: 'Shop', context: '/shop', version: '1.0', endpoints: { production: { url: 'http://127.0.0.1:1/x' } } }, 'the other API unchanged');
  for (const comment of ['# the shop, by hand', '# mine', '# trailing comment']) t.ok(text.includes(comment), `comment kept: ${comment}`);
  t.match(text, /version: "1\.0"/, 'its quoting kept');
  t.match(result.stdout, /^Plan for out\/gateway\.yaml, compared with the file before the import:$/m);
  t.match(result.stdout, /^APIs: 1 to add, 0 to remove, 0 to change;/m, 'the plan adds one API and changes none');

  // "apis: []", as a starter file has it.
  const empty = pizzaCopy(t, { out: { 'gateway.yaml': '# starter\nversion: 1\napis: []\n' } });
  t.equal((await pizza(empty)).code, 0);
  const emptyText = readFileSync(path.join(empty, 'out', 'gateway.yaml'), 'utf8');
  t.same((parseYaml(emptyText) as Imported['config']).apis.map((a) => a.name), ['PizzaShackAPI']);
  t.ok(emptyText.startsWith('# starter\n'), 'the comment kept');
  t.match(emptyText, /\n {2}- name: PizzaShackAPI\n/, 'the entry in block style, as in a new file');

  // A file that does not load on its own (no apis yet): it is not "a new file".
  const partial = pizzaCopy(t, { out: { 'gateway.yaml': '# ours\nversion: 1\nlisten:\n  http: 127.0.0.1:0\n' } });
  const partialResult = await pizza(partial);
  t.equal(partialResult.code, 0, partialResult.stderr);
  t.ok(readFileSync(path.join(partial, 'out', 'gateway.yaml'), 'utf8').startsWith('# ours\nversion: 1\nlisten:\n  http: 127.0.0.1:0\napis:\n'), 'its lines kept, apis added');
  t.notMatch(partialResult.stdout, /a new file/, 'the plan does not call the existing file "a new file"');
});

t.test('a result that does not validate: exit 1, and every file as before (no certificate, no definition left)', async (t) => {
  // Valid alone, and the import is valid alone: together two APIs route /pizzashack/1.0.0 (CONFIG_DUPLICATE_ROUTE).
  const existing = `version: 1
# another team's pizza API, same context and version
apis:
  - name: OtherPizza
    context: /pizzashack
    version: 1.0.0
    endpoints:
      production:
        url: https://other-pizza.internal/api
`;
  const root = pizzaCopy(t, { out: { 'gateway.yaml': existing } });
  t.equal((await gatehouse(['validate', '-c', 'out/gateway.yaml'], root)).code, 0, 'the file validates before');
  const before = snapshot(path.join(root, 'out'));
  const result = await pizza(root);
  t.equal(result.code, 1, 'refused');
  t.match(result.stderr, /apis\[1\]\.context: \/pizzashack\/1\.0\.0 is already the route of API "OtherPizza".*\[CONFIG_DUPLICATE_ROUTE\]/, 'the reason, as validate says it');
  t.match(result.stderr, /^gatehouse import: the result does not validate; every file was put back as it was$/m);
  const after = snapshot(path.join(root, 'out'));
  // Bytes: the file was written, then put back (its mtime is the rollback's).
  const texts = (shot: ReturnType<typeof snapshot>) => Object.fromEntries(Object.entries(shot.files).map(([f, { text }]) => [f, text]));
  t.same(texts(after), texts(before), 'gateway.yaml byte-identical; no certificate, no definition');
  t.same(after.folders, before.folders, 'no folder left behind either');
});

t.test('deployment folders: the project beside it or --project; --env required with several environments, and must exist', async (t) => {
  const root = t.testdir({});
  for (const folder of DEPLOYMENT) cpSync(path.join(FIXTURES, folder), path.join(root, folder), { recursive: true });
  cpSync(path.join(FIXTURES, 'legacy-3.x'), path.join(root, 'legacy-3.x'), { recursive: true });
  const importInto = (out: string, ...args: string[]) => gatehouse(['import', 'wso2', ...args, '--out', out], root);

  const beside = await importInto('beside', 'DeploymentArtifacts_PizzaShackAPI-1.0.0', '--env', 'dev');
  t.equal(beside.code, 0, beside.stderr);

  // The deployment folder elsewhere: not found beside it, found with --project.
  cpSync(path.join(root, 'DeploymentArtifacts_PizzaShackAPI-1.0.0'), path.join(root, 'deploy', 'DeploymentArtifacts_PizzaShackAPI-1.0.0'), { recursive: true });
  cpSync(path.join(root, 'PizzaShackAPI-1.0.0'), path.join(root, 'projects', 'pizza'), { recursive: true });
  const lost = await importInto('lost', 'deploy/DeploymentArtifacts_PizzaShackAPI-1.0.0', '--env', 'dev');
  t.equal(lost.code, 1);
  t.match(lost.stderr, /^gatehouse import: the deployment folder deploy\/DeploymentArtifacts_PizzaShackAPI-1\.0\.0 was made from the project .*deploy\/PizzaShackAPI-1\.0\.0, which is not an apictl project .*pass it with --project\n$/);
  const withProject = await importInto('with-project', 'deploy/DeploymentArtifacts_PizzaShackAPI-1.0.0', '--env', 'dev', '--project', 'projects/pizza');
  t.equal(withProject.code, 0, withProject.stderr);
  t.equal(readFileSync(path.join(root, 'with-project', 'gateway.yaml'), 'utf8'), readFileSync(path.join(root, 'beside', 'gateway.yaml'), 'utf8'), 'the same gateway.yaml');
  t.same(snapshot(path.join(root, 'with-project')).files['certs/pizzashack-dev-prod.crt']?.text, snapshot(path.join(root, 'beside')).files['certs/pizzashack-dev-prod.crt']?.text, 'the same certificates');

  for (const source of ['DeploymentArtifacts_PizzaShackAPI-1.0.0', 'legacy-3.x/PizzaShackAPI-1.0.0']) {
    const params = source.startsWith('legacy') ? 'api_params.yaml' : 'params.yaml';
    const missing = await importInto('missing', source);
    t.equal(missing.code, 1, `${source} without --env: refused`);
    t.match(missing.stderr, new RegExp(`${params.replace('.', '\\.')} has 2 environments \\(dev, prod\\): pick one with --env\\n$`), 'naming the environments');
    const unknown = await importInto('unknown', source, '--env', 'staging');
    t.equal(unknown.code, 1, `${source} --env staging: refused`);
    t.match(unknown.stderr, /has no environment "staging" \(it has dev, prod\)\n$/);
  }
  for (const out of ['lost', 'missing', 'unknown']) t.notOk(existsSync(path.join(root, out)), `${out}/: nothing written`);
});

t.test('a source that is not an apictl export: exit 1, saying what an export has', async (t) => {
  const root = t.testdir({ notes: { 'README.md': '# not an export\n', 'gateway.yaml': 'version: 1\n' }, empty: {} });
  for (const source of ['notes', 'empty']) {
    const result = await gatehouse(['import', 'wso2', source, '--out', 'out'], root);
    t.equal(result.code, 1, source);
    t.equal(result.stderr, `gatehouse import: ${source} is not an apictl export: expected api.yaml (a 4.x project), Meta-information/api.yaml (a 3.x project) or api_meta.yaml (a deployment folder)\n`);
  }
  const absent = await gatehouse(['import', 'wso2', 'nowhere', '--out', 'out'], root);
  t.equal(absent.code, 1);
  t.match(absent.stderr, /^gatehouse import: .*nowhere/);
  // An API product is not an API.
  const product = t.testdir({ 'MyProduct-1.0.0': { 'api.yaml': 'type: api_product\nversion: v4.2.0\ndata:\n  name: MyProduct\n' } });
  const refused = await gatehouse(['import', 'wso2', 'MyProduct-1.0.0', '--out', 'out'], product);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /is of type "api_product": only APIs \(type: api\) are imported/);
  t.notOk(existsSync(path.join(root, 'out')) || existsSync(path.join(product, 'out')), 'nothing written');
  const usage = await gatehouse(['import', 'nginx', 'x'], root);
  t.equal(usage.code, 2, 'an unknown kind is a usage error');
});
