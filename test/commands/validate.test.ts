// `gatehouse validate` as a user runs it: the installed command in a child process, each format
// and each exit code, on the bundled files and on the mistakes people make.
import { cpSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runCli } from '../helpers/cli.js';
import { daysFromNow, issue } from '../helpers/pki.js';
import { oneApi } from '../helpers/workspace.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

t.test('the bundled gateway.yaml and every example are valid (exit 0)', async (t) => {
  const dir = t.testdir({ certs: {} });
  cpSync(path.join(ROOT, 'gateway.yaml'), path.join(dir, 'gateway.yaml'));
  cpSync(path.join(ROOT, 'certs', 'README.md'), path.join(dir, 'certs', 'README.md'));
  cpSync(path.join(ROOT, 'examples'), path.join(dir, 'examples'), { recursive: true });
  const bundled = await runCli(['validate'], { cwd: dir });
  t.equal(bundled.code, 0, bundled.stdout);
  t.match(bundled.stdout, /^gateway\.yaml: valid: 1 API, 1 endpoint, 1 certificate alias \(1 pending\); 1 warning$/m);
  for (const file of readdirSync(path.join(dir, 'examples')).filter((f) => /\.(ya?ml|toml)$/.test(f))) {
    const result = await runCli(['validate', '-c', `examples/${file}`], { cwd: dir });
    t.equal(result.code, 0, `${file}: ${result.stdout}`);
    t.match(result.stdout, new RegExp(`^examples/${file.replace('.', '\\.')}: valid: `, 'm'));
    t.notMatch(result.stdout, /^\S+:\d+:\d+  (?!warning)/m, `${file}: no error line`);
  }
});

t.test('the mistakes of the issue each exit 1 naming the file, line and column (or file)', async (t) => {
  const good = issue({ cn: 'shop.internal', sans: ['shop.internal'] });
  const expired = issue({ cn: 'shop.internal', sans: ['shop.internal'], notBefore: daysFromNow(-30), notAfter: daysFromNow(-2) });
  const endpoint = '{ url: "https://shop.internal", certificate: shop }';
  const cases: [string, Record<string, unknown>, Record<string, string>, RegExp][] = [
    [
      'a typo in a key',
      { 'gateway.yaml': oneApi(endpoint).replace('context:', 'contxt:'), certs: { 'shop.crt': good.certPem } },
      {},
      /^gateway\.yaml:4:5  apis\[0\]\.contxt: unknown key "contxt"; did you mean "context"\?/m,
    ],
    [
      'a duplicate context and version',
      {
        'gateway.yaml': oneApi(endpoint) + '  - { name: Other, context: /shop, version: "1.0", endpoints: { production: { url: "https://x" } } }\n',
        certs: { 'shop.crt': good.certPem },
      },
      {},
      /^gateway\.yaml:8:29  apis\[1\]\.context: \/shop\/1\.0 is already the route of API "Shop" \(apis\[0\], line 3\); change the context or the version  \[CONFIG_DUPLICATE_ROUTE\]$/m,
    ],
    [
      'an unset variable',
      { 'gateway.yaml': oneApi('{ url: "https://${SHOP_HOST}", certificate: shop }'), certs: { 'shop.crt': good.certPem } },
      {},
      /^gateway\.yaml:7:26  apis\[0\]\.endpoints\.production\.url: environment variable SHOP_HOST is not set \(set it, or write \$\{SHOP_HOST:-default\}\)  \[CONFIG_ENV_UNSET\]$/m,
    ],
    [
      'a garbage .crt',
      { 'gateway.yaml': oneApi(endpoint), certs: { 'shop.crt': Buffer.from([0xde, 0xad, 0xbe, 0xef]) } },
      {},
      /^certs\/shop\.crt  not a usable certificate file: neither PEM .* \(certificate alias "shop", used by apis\[0\]\.endpoints\.production\)  \[CERT_PARSE\]$/m,
    ],
    [
      'an expired referenced certificate',
      { 'gateway.yaml': oneApi(endpoint), certs: { 'shop.crt': expired.certPem } },
      {},
      /^certs\/shop\.crt  certificate "CN=shop\.internal" expired on .* \(2 days ago\), used by apis\[0\]\.endpoints\.production: handshakes that need it fail; drop the renewed certificate in \(certs\.expired: warn loads the configuration anyway, and those handshakes still fail\)  \[CERT_EXPIRED\]$/m,
    ],
  ];
  for (const [name, files, env, expected] of cases) {
    const dir = t.testdir(files as Parameters<typeof t.testdir>[0]);
    const result = await runCli(['validate'], { cwd: dir, env });
    t.equal(result.code, 1, `${name}: exit 1`);
    t.match(result.stdout, expected, name);
    t.match(result.stdout, /^gateway\.yaml: invalid: 1 error$/m, `${name}: summary`);
  }
});

t.test('--format json', async (t) => {
  const dir = t.testdir({ 'gateway.yaml': oneApi('{ url: "https://shop.internal", certificate: shop }').replace('version: 1', 'version: 1\nlisten: { htp: 1 }'), certs: {} });
  const result = await runCli(['validate', '--format', 'json'], { cwd: dir });
  t.equal(result.code, 1);
  const report = JSON.parse(result.stdout) as Record<string, unknown>;
  t.same(report, {
    file: 'gateway.yaml',
    valid: false,
    errors: [
      {
        severity: 'error',
        code: 'CONFIG_UNKNOWN_KEY',
        file: 'gateway.yaml',
        line: 2,
        column: 11,
        path: 'listen.htp',
        message: 'unknown key "htp"; did you mean "http"? (known: http, https, workers, shutdownDelay, shutdownTimeout, headersTimeout, requestTimeout, idleTimeout, trustedProxies)',
      },
    ],
    warnings: [],
  });

  const valid = t.testdir({ 'gateway.yaml': oneApi('{ url: "https://shop.internal", certificate: shop }'), certs: {} });
  const ok = JSON.parse((await runCli(['validate', '--format=json'], { cwd: valid })).stdout) as { valid: boolean; warnings: { code: string }[]; summary: Record<string, unknown> };
  t.equal(ok.valid, true);
  t.same(ok.warnings.map((w) => w.code), ['CERT_PENDING']);
  t.match(ok.summary, { apis: 1, endpoints: 1, certificates: 1, pendingCertificates: 1, revision: /^[0-9a-f]{64}$/ });
});

t.test('--strict: a misspelt alias fails CI (exit 1) instead of becoming a 503 in production', async (t) => {
  const good = issue({ cn: 'shop.internal', sans: ['shop.internal'] });
  const dir = t.testdir({ 'gateway.yaml': oneApi('{ url: "https://shop.internal", certificate: shpo }'), certs: { 'shop.crt': good.certPem } });
  const lenient = await runCli(['validate'], { cwd: dir });
  t.equal(lenient.code, 0, 'without --strict a warning does not fail');
  t.match(lenient.stdout, /^gateway\.yaml:7:51  warning  apis\[0\]\.endpoints\.production\.certificate: no file for certificate alias "shpo" in certs\/ yet; did you mean "shop"\? \(has: shop\); this endpoint answers 503 CERTIFICATE_PENDING until one appears  \[CERT_PENDING\]$/m);
  const strict = await runCli(['validate', '--strict'], { cwd: dir });
  t.equal(strict.code, 1, '--strict: warnings fail');
  t.match(strict.stdout, /^gateway\.yaml: valid: 1 API, 1 endpoint, 1 certificate alias \(1 pending\); 1 warning \(--strict: warnings fail\)$/m);
  const json = JSON.parse((await runCli(['validate', '--strict', '--format', 'json'], { cwd: dir })).stdout) as { valid: boolean; strict: boolean; ok: boolean };
  t.match(json, { valid: true, strict: true, ok: false });
  const fixed = t.testdir({ 'gateway.yaml': oneApi('{ url: "https://shop.internal", certificate: shop }'), certs: { 'shop.crt': good.certPem } });
  t.equal((await runCli(['validate', '--strict'], { cwd: fixed })).code, 0, 'no warning: --strict passes');
});

t.test('--format github prints workflow annotations', async (t) => {
  const dir = t.testdir({
    'gateway.yaml': oneApi('{ url: "https://shop.internal", certificate: shop, tls: { hostnameVerifier: AllowAll } }').replace('version: 1', 'version: 1\nlisten: { htp: 1 }'),
    certs: { 'junk.crt': 'x' },
  });
  const result = await runCli(['validate', '--format', 'github', '-c', 'gateway.yaml'], { cwd: dir });
  t.equal(result.code, 1);
  t.equal(
    result.stdout,
    '::error file=gateway.yaml,line=2,col=11,title=CONFIG_UNKNOWN_KEY::listen.htp: unknown key "htp"; did you mean "http"? (known: http, https, workers, shutdownDelay, shutdownTimeout, headersTimeout, requestTimeout, idleTimeout, trustedProxies)\ngateway.yaml: invalid: 1 error\n',
  );
  const warnings = t.testdir({
    'gateway.yaml': oneApi('{ url: "https://shop.internal", certificate: shop, tls: { hostnameVerifier: AllowAll } }'),
    certs: { 'junk.crt': 'x' },
  });
  const warned = await runCli(['validate', '--format', 'github'], { cwd: warnings });
  t.equal(warned.code, 0);
  t.match(warned.stdout, /^::warning file=certs\/junk\.crt,title=CERT_PARSE::not a usable certificate file: .*inventory only\)$/m);
  t.match(warned.stdout, /^::warning file=gateway\.yaml,line=7,col=\d+,title=TLS_ALLOW_ALL::apis\[0\]\.endpoints\.production\.tls\.hostnameVerifier: AllowAll skips/m);
});

t.test('usage errors exit 2; help exits 0', async (t) => {
  const dir = t.testdir({});
  const cases: [string[], RegExp][] = [
    [['validate', '--frmat', 'json'], /^gatehouse validate: Unknown option '--frmat'\n\nUsage: gatehouse validate/],
    [['validate', '--format', 'xml'], /^gatehouse validate: --format must be one of text, json, github \(got "xml"\)/],
    [['validate', 'gateway.yaml'], /^gatehouse validate: unexpected argument "gateway\.yaml" \(the file goes after -c\)/],
    [['validate', '-c'], /^gatehouse validate: Option '-c, --config <value>' argument missing/],
    [['frobnicate'], /^gatehouse: unknown command "frobnicate"\n/],
    [['valdate'], /^gatehouse: unknown command "valdate"; did you mean "validate"\?\n\nGatehouse /],
    [['cerd', 'list'], /^gatehouse: unknown command "cerd"; did you mean "cert"\?/],
  ];
  for (const [args, expected] of cases) {
    const result = await runCli(args, { cwd: dir });
    t.equal(result.code, 2, args.join(' '));
    t.match(result.stderr, expected, args.join(' '));
  }
  const help = await runCli(['help', 'validate'], { cwd: dir });
  t.equal(help.code, 0);
  t.match(help.stdout, /^Usage: gatehouse validate/);
  const top = await runCli(['--help'], { cwd: dir });
  t.equal(top.code, 0);
  t.match(top.stdout, /validate \[-c gateway\.yaml\]/);
  t.match(top.stdout, /run \[-c gateway\.yaml\] \[--workers N\] \[--pretty\] +serve \(the default command\)/);
});

t.test('-v, -V, --version and version print the version', async (t) => {
  const dir = t.testdir({});
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  for (const flag of ['-v', '-V', '--version', 'version']) {
    const result = await runCli([flag], { cwd: dir });
    t.same(result, { code: 0, stdout: `${version}\n`, stderr: '' }, flag);
  }
});

t.test('GATEHOUSE_CONFIG names the file when -c is not given; -c wins over it', async (t) => {
  const dir = t.testdir({
    'conf': { 'mounted.yaml': 'version: 1\napis: []\n' },
    'gateway.yaml': 'version: 1\nlisten: { htp: 1 }\napis: []\n',
  });
  const fromEnv = await runCli(['validate'], { cwd: dir, env: { GATEHOUSE_CONFIG: 'conf/mounted.yaml' } });
  t.equal(fromEnv.code, 0, fromEnv.stdout);
  t.match(fromEnv.stdout, /^conf\/mounted\.yaml: valid/);
  const flag = await runCli(['validate', '-c', 'gateway.yaml'], { cwd: dir, env: { GATEHOUSE_CONFIG: 'conf/mounted.yaml' } });
  t.equal(flag.code, 1, '-c wins');
  t.match(flag.stdout, /listen\.htp: unknown key/);
  const missing = await runCli(['validate'], { cwd: dir, env: { GATEHOUSE_CONFIG: '/nowhere/gateway.yaml' } });
  t.match(missing.stdout, /^\/nowhere\/gateway\.yaml  cannot read the configuration: it does not exist/, 'the file the variable names is the one reported');
  t.equal((await runCli(['validate'], { cwd: dir, env: { GATEHOUSE_CONFIG: '' } })).code, 1, 'empty: gateway.yaml in the current folder, as when unset');
});

t.test('GATEHOUSE_LOG_LEVEL sets the level when --log-level is not given, and is checked the same way', async (t) => {
  const dir = t.testdir({ 'gateway.yaml': 'version: 1\napis: []\n' });
  const bad = await runCli(['run'], { cwd: dir, env: { GATEHOUSE_LOG_LEVEL: 'loud' } });
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^gatehouse run: GATEHOUSE_LOG_LEVEL must be one of trace, debug, info, warn, error, fatal \(got "loud"\)/);
  const flag = await runCli(['run', '--log-level', 'loud'], { cwd: dir, env: { GATEHOUSE_LOG_LEVEL: 'info' } });
  t.match(flag.stderr, /^gatehouse run: --log-level must be one of/, 'the flag is the one named when given');
});

t.test('a missing configuration file exits 1 and says how to point at one', async (t) => {
  const dir = t.testdir({});
  const result = await runCli(['validate'], { cwd: dir });
  t.equal(result.code, 1);
  t.equal(
    result.stdout,
    'gateway.yaml  cannot read the configuration: it does not exist (pass the file with -c, or run from its folder)  [CONFIG_READ]\ngateway.yaml: invalid: 1 error\n',
  );
});
