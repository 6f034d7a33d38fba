// The configuration front end under random input (issue 6): arbitrary text, mutations of the
// bundled examples, arbitrary structures serialized as YAML and TOML, and YAML bombs, each written
// to a real file and loaded with loadConfig. The only outcomes allowed: a configuration, or
// diagnostics that each carry a known code, a one-line message, and a position that exists in the
// file. No exception escapes, and no case takes long (each is timed).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { stringify as stringifyToml } from 'smol-toml';
import t from 'tap';
import { stringify as stringifyYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { LoadResult } from '../../src/config/load.js';
import { parseConfigText } from '../../src/config/parse.js';
import { CODES } from '../../src/errors.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** A hang detector, not a timing target: one case, however hostile, on a slow and busy CI machine. A healthy case takes milliseconds. */
const CASE_BUDGET_MS = 20_000;
/** Reproducible by default; FUZZ_SEED=<n> explores other inputs. */
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20261123;
const runs = (n: number) => ({ numRuns: n, seed: SEED, endOnFailure: true });

const env = {
  GATEHOUSE_ADMIN_TOKEN: 'fuzz-token',
  GATEHOUSE_LISTEN: '127.0.0.1:0',
  GATEHOUSE_RELOAD_INTERVAL: '5s',
  ORDERS_CERT_ALIAS: 'orders',
  ORDERS_HOST: 'orders.internal',
  ORDERS_PORT: '9443',
  ORDERS_VERSION: 'v2',
  VAR: 'value',
};

const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-fuzz-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** The bundled configurations, the seeds of the mutations. */
const seeds: { name: string; format: 'yaml' | 'toml'; text: string }[] = [
  { name: 'gateway.yaml', format: 'yaml', text: readFileSync(path.join(ROOT, 'gateway.yaml'), 'utf8') },
  ...readdirSync(path.join(ROOT, 'examples'))
    .filter((f) => /\.(ya?ml|toml)$/.test(f))
    .map((f): { name: string; format: 'yaml' | 'toml'; text: string } => ({ name: `examples/${f}`, format: f.endsWith('.toml') ? 'toml' : 'yaml', text: readFileSync(path.join(ROOT, 'examples', f), 'utf8') })),
];

let cases = 0;
let loaded = 0;
let slowestMs = 0;

/** Loads `text` as a file of that format and checks the outcome; throws (failing the property) on a violation. */
async function check(text: string | Buffer, format: 'yaml' | 'toml'): Promise<LoadResult> {
  const file = path.join(dir, format === 'toml' ? 'gateway.toml' : 'gateway.yaml');
  writeFileSync(file, text);
  const started = performance.now();
  let result: LoadResult;
  try {
    result = await loadConfig(file, { env });
  } catch (e) {
    throw new Error(`loadConfig threw: ${(e as Error).stack ?? String(e)}`, { cause: e });
  }
  const took = performance.now() - started;
  slowestMs = Math.max(slowestMs, took);
  cases++;
  if (took > CASE_BUDGET_MS) throw new Error(`took ${Math.round(took)} ms (budget ${CASE_BUDGET_MS} ms)`);

  const { config, diagnostics } = result;
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (config && errors.length > 0) throw new Error('a configuration and errors at once');
  if (!config && errors.length === 0) throw new Error(`no configuration and no error: ${JSON.stringify(diagnostics)}`);
  if (config) loaded++;

  const content = typeof text === 'string' ? text : text.toString('utf8');
  const lines = content.split(/\r\n|\r|\n/).length;
  const parsed = parseConfigText(content, file, format);
  const documentParsed = parsed.ok && parsed.data !== null && parsed.data !== undefined;
  const seen = new Set<string>();
  for (const d of diagnostics) {
    const shown = JSON.stringify(d);
    if (d.severity !== 'error' && d.severity !== 'warning') throw new Error(`bad severity: ${shown}`);
    if (!Object.hasOwn(CODES, d.code)) throw new Error(`unknown code: ${shown}`);
    if (typeof d.message !== 'string' || d.message.trim() === '') throw new Error(`empty message: ${shown}`);
    if (/[\r\n]/.test(d.message)) throw new Error(`a message on several lines: ${shown}`);
    if (typeof d.file !== 'string' || !path.isAbsolute(d.file)) throw new Error(`no file: ${shown}`);
    if (d.line !== undefined) {
      if (!Number.isInteger(d.line) || d.line < 1 || (d.file === file && d.line > lines)) throw new Error(`line outside the file (${lines} lines): ${shown}`);
      if (!Number.isInteger(d.column) || d.column! < 1) throw new Error(`bad column: ${shown}`);
    } else if (documentParsed && d.file === file && d.code !== 'CONFIG_READ') {
      throw new Error(`the file parsed, but no line: ${shown}`);
    }
    if (seen.has(shown)) throw new Error(`reported twice: ${shown}`);
    seen.add(shown);
  }
  return result;
}

// ---------------------------------------------------------------- (a) arbitrary text

t.test('arbitrary strings and unicode', async (t) => {
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.string({ unit: 'grapheme', maxLength: 200 }),
    // Mostly YAML's and TOML's own punctuation: more of the parsers' branches.
    fc.string({ unit: fc.constantFrom(...':-[]{},#&*!|>\'"%@`=.\n \t${}\\'.split(''), 'a', 'version', 'apis', '1', '\u00a0', '\ufeff', '\u2028'), maxLength: 200 }),
  );
  await fc.assert(fc.asyncProperty(text, fc.constantFrom('yaml' as const, 'toml' as const), async (s, format) => void (await check(s, format))), runs(300));
  t.pass('no exception, every diagnostic well formed');
});

t.test('arbitrary bytes (not UTF-8)', async (t) => {
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), fc.constantFrom('yaml' as const, 'toml' as const), async (bytes, format) => void (await check(Buffer.from(bytes), format))), runs(100));
  t.pass('no exception');
});

// ---------------------------------------------------------------- (b) mutations of the examples

type Mutation = (lines: string[]) => string[];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.nat().map((i): Mutation => (lines) => lines.filter((_, k) => k !== i % lines.length)),
  fc.nat().map((i): Mutation => (lines) => lines.flatMap((line, k) => (k === i % lines.length ? [line, line] : [line]))),
  fc.tuple(fc.nat(), fc.nat()).map(([i, j]): Mutation => (lines) => {
    const out = [...lines];
    const a = i % out.length;
    const b = j % out.length;
    [out[a], out[b]] = [out[b]!, out[a]!];
    return out;
  }),
  fc.tuple(fc.nat(), fc.nat(), fc.string({ minLength: 1, maxLength: 6, unit: fc.constantFrom(...':-[]{},#&*!|>\'"%@`=.\t ${}\\xZ9\u00e9\u0000'.split('')) })).map(
    ([i, at, chars]): Mutation => (lines) => lines.map((line, k) => (k === i % lines.length ? line.slice(0, at % (line.length + 1)) + chars + line.slice(at % (line.length + 1)) : line)),
  ),
  fc.tuple(fc.nat(), fc.integer({ min: -4, max: 4 })).map(([i, shift]): Mutation => (lines) =>
    lines.map((line, k) => (k === i % lines.length ? (shift >= 0 ? ' '.repeat(shift) + line : line.replace(new RegExp(`^ {0,${-shift}}`), '')) : line)),
  ),
  fc.tuple(fc.nat(), fc.nat()).map(([i, at]): Mutation => (lines) => {
    // Truncate: a file cut at a random point, mid-line.
    const k = i % lines.length;
    return [...lines.slice(0, k), lines[k]!.slice(0, at % (lines[k]!.length + 1))];
  }),
  fc.nat().map((i): Mutation => (lines) => lines.map((line, k) => (k === i % lines.length ? line.replace(/\d+/, (d) => String(Number(d) * 1000 + 7)) : line))),
  fc.nat().map((i): Mutation => (lines) => lines.map((line, k) => (k === i % lines.length ? line.replace(/:\s*(\S.*)$/, ': [$1]') : line))),
);

t.test('mutations of gateway.yaml and the examples', async (t) => {
  t.ok(seeds.length >= 5, `${seeds.length} seed files`);
  for (const seed of seeds) {
    const result = await check(seed.text, seed.format);
    t.ok(result.config, `${seed.name} is valid as bundled`);
  }
  const loadedBefore = loaded;
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 }), async (seed, mutations) => {
      const lines = mutations.reduce((acc, m) => (acc.length === 0 ? acc : m(acc)), seed.text.split('\n'));
      await check(lines.join('\n'), seed.format);
    }),
    runs(400),
  );
  t.ok(loaded - loadedBefore > 20, `${loaded - loadedBefore} mutants still loaded: the deeper stages (rules, compile) were reached`);
});

// ---------------------------------------------------------------- (c) arbitrary structures

/** The configuration's own vocabulary, so that structures reach past the first schema check. */
const key = fc.constantFrom('version', 'listen', 'admin', 'certs', 'reload', 'defaults', 'apis', 'routing', 'name', 'context', 'endpoints', 'production', 'sandbox', 'url', 'certificate', 'timeouts', 'connect', 'socket', 'tls', 'protocols', 'resources', 'path', 'methods', 'http', 'https', 'address', 'token', 'passphrase', '__proto__', 'constructor', 'x');
const scalar = fc.oneof(
  fc.constantFrom(1, 0, -1, 1.5, true, false, null, '', '1', '1.0', 'v1', '/shop', 'https://a.internal:9443/x', 'http://[::1]:1', '10s', '0', '127.0.0.1:0', 'TLSv1.2', 'GET', '${VAR}', '${UNSET}', '$${x}', '${', 'a\nb'),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double(),
);
const structure = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, scalar, tie('list'), tie('map')),
  list: fc.array(tie('node'), { maxLength: 4 }),
  map: fc.dictionary(fc.oneof(key, fc.string({ maxLength: 8 })), tie('node'), { maxKeys: 6 }),
})).map;

/** A document shaped like a configuration, with arbitrary values where the keys are. */
const configLike = fc.record({
  version: fc.oneof(fc.constant(1), scalar),
  apis: fc.array(
    fc.record({
      name: fc.oneof(fc.constantFrom('Shop', 'Orders'), scalar),
      context: fc.oneof(fc.constantFrom('/shop', '/orders', '/shop/v1'), scalar),
      version: fc.oneof(fc.constantFrom('v1', '1.0'), scalar),
      endpoints: fc.oneof(
        fc.record({ production: fc.oneof(fc.record({ url: fc.oneof(fc.constantFrom('https://a.internal:9443', 'http://b:80/x'), scalar), certificate: fc.oneof(fc.constantFrom('a', 'b.crt'), scalar) }, { requiredKeys: ['url'] }), structure) }),
        structure,
      ),
    }, { requiredKeys: ['name', 'context', 'version', 'endpoints'] }),
    { maxLength: 3 },
  ),
  listen: fc.oneof(fc.record({ http: fc.oneof(fc.constantFrom('127.0.0.1:0', '99999', '[::1]:80'), scalar) }), structure),
  defaults: structure,
}, { requiredKeys: ['version', 'apis'] });

t.test('arbitrary structures, as YAML and as TOML', async (t) => {
  const anything = fc.oneof(structure, configLike, fc.object({ maxDepth: 3 }), fc.anything({ maxDepth: 3 }));
  let toml = 0;
  await fc.assert(
    fc.asyncProperty(anything, async (value) => {
      // yaml's stringify gives undefined (not a string) for undefined: then the file is empty, a case of its own.
      const yaml: unknown = stringifyYaml(value, { aliasDuplicateObjects: false });
      await check(typeof yaml === 'string' ? yaml : '', 'yaml');
      let text: string | undefined;
      try {
        text = stringifyToml(value);
      } catch {
        // TOML has no null, and a document must be a table: not every structure is TOML.
      }
      if (text !== undefined) {
        toml++;
        await check(text, 'toml');
      }
    }),
    runs(250),
  );
  t.ok(toml > 50, `${toml} structures were also TOML`);
});

// ---------------------------------------------------------------- (d) bombs

function billionLaughs(levels: number, fanout: number): string {
  const lines = [`l0: &l0 [${Array(fanout).fill('"lol"').join(', ')}]`];
  for (let i = 1; i < levels; i++) lines.push(`l${i}: &l${i} [${Array(fanout).fill(`*l${i - 1}`).join(', ')}]`);
  return `version: 1\napis: []\n${lines.join('\n')}\n`;
}

t.test('YAML bombs: alias expansion is refused, deep nesting and long lines are diagnosed in bounded time', async (t) => {
  const laughs = await check(billionLaughs(10, 10), 'yaml');
  t.match(laughs.diagnostics, [{ code: 'CONFIG_SYNTAX', message: 'excessive alias count indicates a resource exhaustion attack' }], 'billion laughs (10^10 nodes): refused, not expanded');
  const merged = await check(`version: 1\napis: []\nbase: &b { a: 1 }\n${Array.from({ length: 200 }, (_, i) => `k${i}: { <<: *b }`).join('\n')}\n`, 'yaml');
  t.match(merged.diagnostics, [{ code: 'CONFIG_SYNTAX', message: /resource exhaustion/ }], 'two hundred merges of one anchor: refused');
  const small = await check('version: 1\nshared: &s { connect: 1s }\napis: []\ndefaults: { timeouts: *s }\n', 'yaml');
  t.match(small.diagnostics, [{ code: 'CONFIG_UNKNOWN_KEY', path: 'shared' }], 'an ordinary alias is still fine');

  const deep = await check(`version: 1\napis: ${'['.repeat(5000)}${']'.repeat(5000)}\n`, 'yaml');
  t.match(deep.diagnostics, [{ code: 'CONFIG_SYNTAX', line: 2, message: /^the document is nested too deeply/ }], '5000 nested flow sequences');
  const deepMap = await check(`version: 1\napis: ${'{a: '.repeat(3000)}1${'}'.repeat(3000)}\n`, 'yaml');
  t.match(deepMap.diagnostics, [{ code: 'CONFIG_SYNTAX', message: /nested too deeply/ }], '3000 nested flow maps');
  const unclosed = await check(`version: 1\napis: ${'['.repeat(3000)}\n`, 'yaml');
  t.ok(unclosed.diagnostics.length <= 3, `3000 unclosed [: ${unclosed.diagnostics.length} diagnostics, not one per level`);
  const deepToml = await check(`version = 1\napis = ${'['.repeat(5000)}${']'.repeat(5000)}\n`, 'toml');
  t.match(deepToml.diagnostics, [{ code: 'CONFIG_SYNTAX', line: 2 }], '5000 nested TOML arrays');

  const longValue = await check(`version: 1\napis: []\nlisten: { http: "${'9'.repeat(2_000_000)}" }\n`, 'yaml');
  const shown = longValue.diagnostics.map((d) => d.message).join('\n');
  t.ok(shown.length < 2_000, `a 2 MB value is not echoed whole (${shown.length} characters of messages)`);
  const longKey = await check(`version: 1\napis: []\n${'k'.repeat(1_000_000)}: 1\n`, 'yaml');
  t.match(longKey.diagnostics, [{ code: 'CONFIG_SYNTAX', line: 3, message: 'the : indicator must be at most 1024 chars after the start of an implicit block mapping key' }], 'a 1 MB key: refused by YAML itself');
  const cascade = await check(`version: 1\napis: []\nlisten: { http: ${'${'.repeat(10_000)} }\n`, 'yaml');
  t.ok(cascade.diagnostics.length <= 21, `a line of 10,000 "\${" (as many nested flow maps): ${cascade.diagnostics.length} diagnostics, not 20,000`);
  t.match(cascade.diagnostics, [{ code: 'CONFIG_SYNTAX', line: 3, message: /^\$\{VAR\} references inside \{ \} or \[ \] must be quoted: / }], 'one mistake, reported once: the errors it cascades into are folded into it');
  const longComment = await check(`version: 1\napis: [] # ${'#'.repeat(1_500_000)}\n`, 'yaml');
  t.same(longComment.diagnostics, [], 'a 1.5 MB comment is only a comment');

  // Random nesting depths, fan-outs and lengths.
  const bomb = fc.oneof(
    fc.tuple(fc.integer({ min: 1, max: 2000 }), fc.constantFrom('[', '{a: ', '- ', '{'), fc.boolean()).map(([depth, open, closed]) => {
      const close = open === '[' ? ']' : open.startsWith('{') ? '}' : '';
      if (open === '- ') return `version: 1\napis:\n${Array.from({ length: Math.min(depth, 300) }, (_, i) => `${'  '.repeat(i)}- `).join('\n')}x\n`;
      return `version: 1\napis: ${open.repeat(depth)}${open === '{a: ' ? '1' : ''}${closed ? close.repeat(depth) : ''}\n`;
    }),
    fc.tuple(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 2, max: 12 })).map(([levels, fanout]) => billionLaughs(levels, fanout)),
    // Long lines: linear scalars up to 400 kB; up to 10,000 of the characters that open a level
    // or an error (the parser takes about 20 µs for each, so a few seconds for 100,000).
    fc.tuple(fc.integer({ min: 1_000, max: 400_000 }), fc.constantFrom('x', '"', '\\', '#', 'é')).map(([length, c]) => `version: 1\napis: []\nlisten: { http: ${c.repeat(length)} }\n`),
    fc.tuple(fc.integer({ min: 1_000, max: 10_000 }), fc.constantFrom('${', '[', '{', '- ', '? ', ': ', ', ')).map(([length, c]) => `version: 1\napis: []\nlisten: { http: ${c.repeat(length)} }\n`),
  );
  await fc.assert(
    fc.asyncProperty(bomb, async (text) => {
      const result = await check(text, 'yaml');
      // Whatever was accepted was not expanded past the alias limit.
      if (result.config) return;
      if (text.includes('*l') && !result.diagnostics.some((d) => /resource exhaustion|unknown key|nested too deeply/.test(d.message))) {
        throw new Error(`an alias bomb was neither refused nor diagnosed: ${JSON.stringify(result.diagnostics).slice(0, 500)}`);
      }
    }),
    runs(30),
  );
  t.pass('random bombs');
});

t.test('the fuzzing ran', async (t) => {
  t.ok(cases > 1_000, `${cases} documents loaded in all (${loaded} valid); slowest ${Math.round(slowestMs)} ms`);
});
