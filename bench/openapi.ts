// Reading an OpenAPI definition for resources: { openapi } (config/openapi.ts): parse, validate
// and convert, the cost a load pays when a definition's bytes changed (an unchanged one is not
// read again: load.ts caches it by SHA-256). Definitions of 50, 500 and 2,000 paths, two
// operations each, with a $ref'd schema as real definitions have.
//
//   node --import tsx bench/openapi.ts [--rounds 5]
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { parseOpenApi } from '../src/config/openapi.js';
import { median } from './common.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });

function definition(paths: number): string {
  const items: Record<string, unknown> = {};
  for (let i = 0; i < paths; i++) {
    items[`/resource${i}/{id}`] = {
      get: {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'ok', content: { 'application/json': { schema: { $ref: '#/components/schemas/Item' } } } } },
      },
      put: { responses: { '204': { description: 'stored' } } },
    };
  }
  return stringify({ openapi: '3.0.3', info: { title: 'bench', version: '1' }, paths: items, components: { schemas: { Item: { type: 'object', properties: { id: { type: 'string' } } } } } });
}

console.log('paths | KB | ms per read (median) | resources');
for (const paths of [50, 500, 2000]) {
  const text = definition(paths);
  const times: number[] = [];
  let resources = 0;
  for (let round = 0; round < Number(values.rounds) + 1; round++) {
    const started = performance.now();
    const parsed = await parseOpenApi(text, '/bench/definition.yaml');
    if (!parsed.definition) throw new Error(`the definition was refused: ${parsed.diagnostics.map((d) => d.message).join('; ')}`);
    resources = parsed.definition.resources.length;
    if (round > 0) times.push(performance.now() - started); // the first round warms up
  }
  console.log(`${paths} | ${(text.length / 1024).toFixed(0)} | ${median(times).toFixed(1)} | ${resources}`);
}
