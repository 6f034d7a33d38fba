// An editor with the YAML language server validates gateway.yaml through the schema comment on its
// first line: the real server (yaml-language-server), driven over stdio as VS Code drives it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { LspClient } from '../helpers/lsp.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

t.test('the YAML language server flags a typo and a wrong value in gateway.yaml, and accepts the bundled one', async (t) => {
  const client = new LspClient({ yaml: { validate: true, hover: true, completion: true, schemaStore: { enable: false } } });
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
