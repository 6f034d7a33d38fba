// The migration guides (docs/migrate/*.md) show whole configurations: every ```yaml block that
// starts with `version: 1` must load without errors, as the gateway would load it. Certificates
// named by aliases are not there (a missing certificate is only CERT_PENDING, a warning); a keys
// file or a JWKS file the block names is provided, empty or with one public key, since the
// guides show them beside gateway.yaml. Fragments (a piece of a configuration) do not start with
// `version: 1` and are not checked here.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import { ROOT } from '../scripts/generate-docs.js';

const DIR = path.join(ROOT, 'docs', 'migrate');

interface Block {
  readonly line: number;
  readonly text: string;
}

/** The ```yaml blocks of a Markdown file whose first line that is not a comment is `version: 1`. */
function configurationBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  // Fences may be indented (inside a list item): the block's lines lose that indentation.
  const fence = /^( *)```ya?ml[^\n]*\n([\s\S]*?)^\1```/gm;
  for (const match of markdown.matchAll(fence)) {
    const indent = match[1]!.length;
    const text = match[2]!
      .split('\n')
      .map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length)))
      .join('\n');
    const first = text.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('#'));
    if (first?.trim() !== 'version: 1') continue;
    blocks.push({ line: markdown.slice(0, match.index).split('\n').length + 1, text });
  }
  return blocks;
}

/** A JWKS with one EC public key, for a block whose jwt.jwks names a file. */
function jwksFile(): string {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' }] });
}

/** The files a block names beside itself (a keys file, JWKS files), to be written next to it. */
function companionFiles(text: string): Record<string, string> {
  const files: Record<string, string> = {};
  const doc = parse(text) as Record<string, unknown>;
  const keys = doc.keys as { file?: unknown } | undefined;
  if (typeof keys?.file === 'string') files[keys.file] = '[]\n';
  const jwt = (security: unknown): void => {
    const jwks = (security as { jwt?: { jwks?: unknown } } | undefined)?.jwt?.jwks;
    if (typeof jwks === 'string' && !/^https?:/.test(jwks)) files[jwks] = jwksFile();
  };
  jwt((doc.defaults as { security?: unknown } | undefined)?.security);
  for (const api of (doc.apis as { security?: unknown }[] | undefined) ?? []) jwt(api.security);
  return files;
}

const guides = readdirSync(DIR).filter((f) => f.endsWith('.md'));

t.test('the three migration guides exist', async (t) => {
  t.same([...guides].sort(), ['nginx.md', 'traefik.md', 'wso2.md']);
});

for (const guide of guides) {
  t.test(`docs/migrate/${guide}: every whole configuration loads without errors`, async (t) => {
    const blocks = configurationBlocks(readFileSync(path.join(DIR, guide), 'utf8'));
    t.ok(blocks.length >= 2, `${guide} shows whole configurations (${blocks.length})`);
    for (const block of blocks) {
      const dir = t.testdir({ 'gateway.yaml': block.text, certs: {} });
      for (const [file, content] of Object.entries(companionFiles(block.text))) {
        mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        writeFileSync(path.join(dir, file), content);
      }
      const { config, diagnostics } = await loadConfig(path.join(dir, 'gateway.yaml'), { env: {} });
      const errors = diagnostics.filter((d) => d.severity === 'error');
      t.same(
        errors.map((d) => `${d.line ?? '-'}:${d.column ?? '-'} ${d.path ?? ''} ${d.message} [${d.code}]`),
        [],
        `${guide}:${block.line}: no errors`,
      );
      t.ok(config, `${guide}:${block.line}: a configuration`);
      const unexpected = diagnostics.filter((d) => d.severity !== 'error' && d.code !== 'CERT_PENDING' && d.code !== 'CERT_DIRECTORY');
      t.comment(`${guide}:${block.line}: warnings other than CERT_PENDING: ${unexpected.map((d) => d.code).join(', ') || 'none'}`);
    }
  });
}
