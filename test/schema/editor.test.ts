// An editor with the YAML language server validates gateway.yaml through the schema comment on its
// first line: the real server (yaml-language-server), driven over stdio as VS Code drives it.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { validateCommand } from '../../src/commands/validate.js';
import { runInProcess } from '../helpers/cli.js';
import { LspClient } from '../helpers/lsp.js';
import type { LspDiagnostic } from '../helpers/lsp.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SCHEMA_URI = pathToFileURL(path.join(ROOT, 'schemas', 'gateway.schema.json')).href;
const SCHEMA_COMMENT = /^# yaml-language-server: \$schema=\S+/;

const settings = { yaml: { validate: true, hover: true, completion: true, schemaStore: { enable: false } } };

/** gateway.yaml, every YAML example, and the gateway.yaml files under deploy/ when there are any. */
function yamlConfigurations(): string[] {
  const files = [path.join(ROOT, 'gateway.yaml')];
  files.push(...readdirSync(path.join(ROOT, 'examples')).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join(ROOT, 'examples', f)));
  if (existsSync(path.join(ROOT, 'deploy'))) {
    files.push(
      ...readdirSync(path.join(ROOT, 'deploy'), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && /^gateway\.ya?ml$/.test(e.name))
        .map((e) => path.join(e.parentPath, e.name)),
    );
  }
  return files;
}

const brief = (d: LspDiagnostic[]) => JSON.stringify(d.map((x) => `${x.range.start.line + 1}: ${x.message}`));

t.test('the YAML language server flags a typo and a wrong value in gateway.yaml, and accepts the bundled one', async (t) => {
  const client = new LspClient(settings);
  t.teardown(() => client.stop());
  await client.start(pathToFileURL(ROOT).href);

  // Documents beside the real gateway.yaml, so the relative $schema in the comment resolves.
  const bundled = readFileSync(path.join(ROOT, 'gateway.yaml'), 'utf8');
  const typo = bundled.replace('listen:\n  http:', 'listen:\n  htp:').replace('default: true', 'default: yes please');
  t.not(typo, bundled);

  const goodUri = pathToFileURL(path.join(ROOT, 'editor-check-good.yaml')).href;
  const badUri = pathToFileURL(path.join(ROOT, 'editor-check-bad.yaml')).href;
  client.open(goodUri, bundled);
  client.open(badUri, typo);

  const bad = await client.diagnostics(badUri, (d) => d.length >= 2);
  const htpLine = typo.split('\n').findIndex((l) => l.includes('htp:'));
  const typoDiagnostic = bad.find((d) => /htp/.test(d.message));
  t.ok(typoDiagnostic, `the typo is flagged: ${JSON.stringify(bad.map((d) => d.message))}`);
  t.equal(typoDiagnostic?.range.start.line, htpLine, 'on its line');
  t.ok(bad.some((d) => /boolean/i.test(d.message)), 'a non-boolean default is flagged');

  const good = await client.diagnostics(goodUri, () => true);
  t.same(good, [], 'the bundled gateway.yaml has no diagnostics');
});

t.test('every YAML configuration shipped (gateway.yaml, examples/, deploy/) has no diagnostics in the editor', async (t) => {
  const files = yamlConfigurations();
  t.ok(files.length >= 6, `gateway.yaml and the examples: ${files.length} files`);
  const client = new LspClient(settings);
  t.teardown(() => client.stop());
  await client.start(pathToFileURL(ROOT).href);

  // The control: a document the schema refuses, so that "no diagnostics" below means the schema
  // was read, not that nothing was checked.
  const controlUri = pathToFileURL(path.join(ROOT, 'examples', 'editor-check-control.yaml')).href;
  client.open(controlUri, '# yaml-language-server: $schema=../schemas/gateway.schema.json\nversion: 1\napis: []\nreload: { preflight: sometimes }\n');
  const control = await client.diagnostics(controlUri, (d) => d.length > 0);
  t.match(control[0]?.message, /off.*warn.*enforce/, 'the control is flagged');

  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    // A file without the comment (a manifest's copy, say) is checked against the schema all the same.
    client.open(pathToFileURL(file).href, SCHEMA_COMMENT.test(text.split('\n')[0]!) ? text : `# yaml-language-server: $schema=${SCHEMA_URI}\n${text}`);
  }
  for (const file of files) {
    const diagnostics = await client.diagnostics(pathToFileURL(file).href, () => true);
    t.same(diagnostics, [], `${path.relative(ROOT, file)}: ${brief(diagnostics)}`);
  }
});

/** Values from variables where the schema expects a number (port, bytes), a duration, enums and booleans. */
const withVariables = `# yaml-language-server: $schema=${SCHEMA_URI}
version: 1
listen:
  http: \${GATEHOUSE_PORT:-8280}
reload:
  interval: \${RELOAD_INTERVAL:-10s}
  preflight: \${PREFLIGHT:-off}
apis:
  - name: Orders
    context: /orders
    version: v1
    default: \${ORDERS_DEFAULT:-true}
    maxBodySize: \${ORDERS_MAX_BODY:-1048576}
    timeouts:
      socket: \${ORDERS_TIMEOUT:-1m30s}
    endpoints:
      production:
        url: https://orders.internal:9443
        tls:
          hostnameVerifier: \${ORDERS_VERIFIER:-Strict}
          trustSystemCAs: \${TRUST_SYSTEM_CAS:-true}
        headers: { forwarded: "\${FORWARDED}" }
`;

t.test('${VAR} in a boolean, a number, an enum and a duration: the editor is silent, validate reads the values', async (t) => {
  const dir = t.testdir({ 'gateway.yaml': withVariables, certs: {} });
  const client = new LspClient(settings);
  t.teardown(() => client.stop());
  await client.start(pathToFileURL(dir).href);

  // The same document with literals where the variables were: the editor flags each, once, in
  // the words of the value's own form (no "matches multiple schemas", no anyOf noise).
  const literals = withVariables
    .replace('${ORDERS_DEFAULT:-true}', 'maybe')
    .replace('${ORDERS_VERIFIER:-Strict}', 'Strikt')
    .replace('${ORDERS_TIMEOUT:-1m30s}', '5 sec')
    .replace('${TRUST_SYSTEM_CAS:-true}', '5');
  const uri = pathToFileURL(path.join(dir, 'gateway.yaml')).href;
  const literalsUri = pathToFileURL(path.join(dir, 'literals.yaml')).href;
  client.open(uri, withVariables);
  client.open(literalsUri, literals);
  const flagged = await client.diagnostics(literalsUri, (d) => d.length > 0);
  t.same(
    flagged.map((d) => [d.range.start.line + 1, d.message]).sort((a, b) => (a[0] as number) - (b[0] as number)),
    [
      [12, 'Incorrect type. Expected "boolean".'],
      [15, 'must be a duration like "500ms", "10s", "1m30s", "1h" or "30d", or an integer number of milliseconds'],
      [20, 'Value is not accepted. Valid values: "Strict", "DefaultAndLocalhost", "AllowAll".'],
      [21, 'Incorrect type. Expected "boolean".'],
    ],
    'one clear message per wrong literal',
  );
  const silent = await client.diagnostics(uri, () => true);
  t.same(silent, [], `the editor accepts every \${VAR}: ${brief(silent)}`);

  const env = { GATEHOUSE_PORT: '18280', RELOAD_INTERVAL: '2m', PREFLIGHT: 'warn', ORDERS_DEFAULT: 'false', ORDERS_MAX_BODY: '2048', ORDERS_VERIFIER: 'DefaultAndLocalhost', FORWARDED: 'FALSE' };
  const valid = await runInProcess(validateCommand, ['-c', 'gateway.yaml'], dir, env);
  t.equal(valid.code, 0, valid.stdout + valid.stderr);
  t.match(valid.stdout, /^gateway\.yaml: valid: 1 API, 1 endpoint/m);
  const json = await runInProcess(validateCommand, ['-c', 'gateway.yaml', '--format', 'json'], dir, env);
  t.equal(json.code, 0);

  const bad = await runInProcess(validateCommand, ['-c', 'gateway.yaml'], dir, { ...env, ORDERS_DEFAULT: 'maybe', ORDERS_VERIFIER: 'Strikt', FORWARDED: 'yes' });
  t.equal(bad.code, 1);
  t.equal(
    bad.stdout.split('\n').filter((l) => /^gateway\.yaml:\d/.test(l)).join('\n'),
    [
      'gateway.yaml:12:14  apis[0].default: ORDERS_DEFAULT must be true or false here (its value is not shown: it comes from the environment)  [CONFIG_TYPE]',
      'gateway.yaml:20:29  apis[0].endpoints.production.tls.hostnameVerifier: must be one of Strict, DefaultAndLocalhost, AllowAll (got ${ORDERS_VERIFIER:-Strict}); did you mean "Strict"?  [CONFIG_INVALID_VALUE]',
      'gateway.yaml:22:31  apis[0].endpoints.production.headers.forwarded: FORWARDED="yes": must be true or false (yes/no, on/off and 1/0 are not booleans in YAML 1.2 or TOML)  [CONFIG_TYPE]',
    ].join('\n'),
    'each bad value: the variable, the line, one sentence',
  );
  t.notMatch(bad.stdout, /maybe|Strikt/, 'what the environment held is not printed (a suggestion among the allowed words is)');
});
