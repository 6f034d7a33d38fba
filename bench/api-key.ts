// The API-key check alone, in this process: CPU time per check of a request's key against a keys
// file of 1,000 entries (the SHA-256 of the key, the map lookup, the constant-time comparison, the
// scan of the request's headers): what security.apiKey adds to a request, below what the HTTP
// benchmark (bench/run.ts, target `apikey`) can resolve on a shared machine.
//
//   node --import tsx bench/api-key.ts [--checks 200000] [--rounds 5]
import { parseArgs } from 'node:util';
import { KeyRing, newApiKey } from '../src/config/keys.js';
import type { ApiKeyEntry } from '../src/config/keys.js';
import { checkCredentials } from '../src/proxy/security.js';
import type { Verdict } from '../src/proxy/verdict.js';
import type { ApiRuntime } from '../src/snapshot/snapshot.js';
import { median } from './common.js';

const { values } = parseArgs({ options: { checks: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } } });
const checks = Number(values.checks);
const key = newApiKey();
const entries: ApiKeyEntry[] = Array.from({ length: 999 }, (_, i) => ({ name: `app-${i}`, sha256: newApiKey().sha256, type: 'production', apis: ['Orders'] }));
entries.push({ name: 'bench', sha256: key.sha256, type: 'production', apis: ['Orders'] });
const ring = new KeyRing(entries);
// What checkCredentials reads of an API: its name, version, security and endpoints.
const api = { config: { name: 'Orders', version: 'v1', security: { apiKey: { header: 'apikey' } } }, production: {}, sandbox: undefined, jwt: undefined } as unknown as ApiRuntime;
// The headers of a typical request (curl's, and the key).
const rawHeaders = ['Host', 'gateway.example:8280', 'User-Agent', 'curl/8.5.0', 'Accept', '*/*', 'apikey', key.key];

const perCheck: number[] = [];
for (let round = 0; round < Number(values.rounds) + 1; round++) {
  const started = process.cpuUsage();
  for (let i = 0; i < checks; i++) if ((checkCredentials(api, rawHeaders, ring) as Verdict).kind !== 'allowed') throw new Error('the key was refused');
  const used = process.cpuUsage(started);
  // The first round warms the JIT up.
  if (round > 0) perCheck.push((used.user + used.system) / checks);
}
console.log(`node ${process.version}: ${median(perCheck).toFixed(2)} µs CPU per API-key check (median of ${perCheck.length} rounds of ${checks}; 1,000 keys in the ring)`);
