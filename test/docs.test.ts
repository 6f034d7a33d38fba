// The documentation is kept in step with the code: the generated reference blocks, the error
// catalogue, the schema's descriptions, defaults and examples, the examples' schema comments, and
// the README's test command.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CODES } from '../src/errors.js';
import type { SchemaNode } from '../src/config/schema.js';
import { DOCS, ROOT, generatedBlock } from '../scripts/generate-docs.js';
import { runCli } from './helpers/cli.js';
import { daysFromNow, issue } from './helpers/pki.js';

const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

t.test('docs/configuration.md and docs/errors.md are generated from the current schema and catalogue', async (t) => {
  for (const [file, render] of Object.entries(DOCS)) {
    t.equal(generatedBlock(read(file)), render(), `${file} is up to date (run \`npm run docs\`)`);
  }
});

function filesUnder(dir: string, ext: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(ext))
    .map((e) => path.join(e.parentPath, e.name));
}

t.test('every code of the catalogue is emitted by the code and exercised by a test', async (t) => {
  const source = filesUnder('src', '.ts')
    .filter((f) => f !== path.join(ROOT, 'src', 'errors.ts'))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  const tests = filesUnder('test', '.ts')
    .filter((f) => !f.endsWith('docs.test.ts'))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  for (const code of Object.keys(CODES)) {
    t.match(source, new RegExp(`'${code}'`), `${code} is emitted in src/`);
    t.match(tests, new RegExp(`\\b${code}\\b`), `${code} is exercised in test/`);
  }
});

t.test('every key in the schema has a description, an example, and a default or says why not', async (t) => {
  const schema = JSON.parse(read('schemas/gateway.schema.json')) as SchemaNode;
  const walk = (node: SchemaNode, where: string): void => {
    const required = new Set(node.required ?? []);
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const at = `${where}.${key}`;
      t.ok(child.description, `${at} has a description`);
      t.ok(child.examples && child.examples.length > 0, `${at} has an example`);
      const explained = child.default !== undefined || required.has(key) || /No default|Inherit|Only 1 exists/i.test(child.description ?? '');
      t.ok(explained, `${at} has a default, is required, or its description says what absent means`);
      walk(child, at);
    }
  };
  walk(schema, '');
  for (const [name, definition] of Object.entries(schema.definitions ?? {})) {
    t.ok(definition.description, `definitions.${name} has a description`);
    walk(definition, `definitions.${name}`);
  }
  const objects: string[] = [];
  const collect = (node: unknown, where: string): void => {
    if (typeof node !== 'object' || node === null) return;
    const record = node as Record<string, unknown>;
    if (record.properties) objects.push(where);
    if (record.properties && record.additionalProperties !== false) t.fail(`${where} allows unknown keys`);
    for (const [key, value] of Object.entries(record)) collect(value, `${where}/${key}`);
  };
  collect(schema, '#');
  t.ok(objects.length > 15, `every object (${objects.length}) was checked for additionalProperties: false`);
});

t.test('gateway.yaml and every example start with the schema comment editors read', async (t) => {
  t.match(read('gateway.yaml').split('\n')[0], /^# yaml-language-server: \$schema=\.\/schemas\/gateway\.schema\.json$/);
  const examples = readdirSync(path.join(ROOT, 'examples')).filter((f) => /\.(ya?ml|toml)$/.test(f));
  t.ok(examples.length >= 6, 'the six examples exist');
  for (const file of examples) {
    const first = read(`examples/${file}`).split('\n')[0];
    if (file.endsWith('.toml')) t.equal(first, '#:schema ../schemas/gateway.schema.json', file);
    else t.equal(first, '# yaml-language-server: $schema=../schemas/gateway.schema.json', file);
  }
});

t.test("CI runs exactly the README's test command", async (t) => {
  const readme = read('README.md');
  const testCommand = /^npm ci && npm run check(?=\s)/m.exec(readme)?.[0];
  t.ok(testCommand, 'the README shows the test command');
  t.match(read('.ci/run'), new RegExp(`^${testCommand!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), '.ci/run runs it');
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  t.match(pkg.scripts.check, /lint.*typecheck.*test/, 'check runs lint, the typecheck and the tests');
});

t.test("the README's validate samples are what validate prints", async (t) => {
  const readme = read('README.md');
  const block = (marker: string): string => {
    const at = readme.indexOf(`<!-- readme-sample: ${marker}`);
    t.ok(at >= 0, `the README has the sample "${marker}"`);
    const body = /```\w*\n([\s\S]*?)```/.exec(readme.slice(at))?.[1];
    return body ?? '';
  };
  const input = block('gateway.yaml');
  const dir = t.testdir({ 'gateway.yaml': input, certs: {} });
  const first = await runCli(['validate'], { cwd: dir });
  t.equal(first.code, 1);
  t.equal(first.stdout, block('output'), 'the first sample, byte for byte');

  // The second: the two errors fixed, an expired certificate for "pizza". Dates move with the
  // clock, so the certificate's dates and days are compared as patterns.
  const expired = issue({ cn: 'pizza.internal', sans: ['pizza.internal'], notBefore: daysFromNow(-400), notAfter: daysFromNow(-29.5) });
  const fixed = t.testdir({
    'gateway.yaml': input.replace('  htp: ', '  http: ').replace('version: 1.0\n', 'version: "1.0"\n'),
    certs: { 'pizza.crt': expired.certPem },
  });
  const second = await runCli(['validate'], { cwd: fixed });
  t.equal(second.code, 1);
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = (text: string) =>
    text
      .split(/\d{4}-\d\d-\d\dT[\d:.]+Z \(\d+ days ago\)/)
      .map(escape)
      .join('\\S+ \\(\\d+ days ago\\)');
  t.match(second.stdout, new RegExp(`^${pattern(block('output after the fixes'))}$`), 'the second sample, but for dates');
});
