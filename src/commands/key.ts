// gatehouse key new|hash: API keys from the command line (docs/security.md). `new` prints a fresh
// key once, with the entry to paste into the keys file; the key itself is written nowhere.
// `hash` prints the entry of a key that exists already (one migrated from another gateway),
// read from standard input so that it stays out of the shell's history and the process list.
import { stringify } from 'yaml';
import { EXIT_OK, UsageError, formatArg, parseCommandArgs } from '../cli/io.js';
import type { CommandIo } from '../cli/io.js';
import { hashApiKey, newApiKey, parseKeysFile } from '../config/keys.js';
import type { ApiKeyEntry, KeyType } from '../config/keys.js';

export const KEY_USAGE = `Usage: gatehouse key <new|hash> --name NAME --type production|sandbox --apis API[,API...] [--plan PLAN] [--format text|json]

  key new     makes a random key (256 bits), prints it once, and the entry for the keys file
  key hash    reads an existing key from standard input and prints its entry

The keys file (keys.file in gateway.yaml) holds the entry: the key's SHA-256, never the key.
Give the key to its holder; Gatehouse cannot show it again.

Options:
  --name NAME       who holds the key: the access log and the metrics show this, not the key
  --type TYPE       production or sandbox: which endpoint the key's requests go to
  --apis LIST       the API names the key may call, comma-separated
  --plan PLAN       a plan of gateway.yaml's plans (its rate limit)
  --format FORMAT   text (default) or json
`;

export async function keyCommand(args: string[], io: CommandIo & { readonly stdin?: NodeJS.ReadableStream }): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    name: { type: 'string' },
    type: { type: 'string' },
    apis: { type: 'string' },
    plan: { type: 'string' },
    format: { type: 'string', default: 'text' },
  });
  const [sub, ...extra] = positionals;
  if (sub !== 'new' && sub !== 'hash') throw new UsageError(sub === undefined ? 'a subcommand is needed: new or hash' : `unknown subcommand "${sub}" (new or hash)`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const format = formatArg(values.format, ['text', 'json'] as const);
  if (!values.name) throw new UsageError('--name is needed: who holds the key');
  if (values.type !== 'production' && values.type !== 'sandbox') throw new UsageError(values.type === undefined ? '--type is needed: production or sandbox' : `--type must be production or sandbox (got "${values.type}")`);
  const apis = (values.apis ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  if (apis.length === 0) throw new UsageError('--apis is needed: the API names the key may call, comma-separated');

  let key: string | undefined;
  let sha256: string;
  if (sub === 'new') ({ key, sha256 } = newApiKey());
  else {
    const text = (await readAll(io.stdin ?? process.stdin)).replace(/\r?\n$/, '');
    if (text.length === 0) throw new UsageError('key hash reads the key from standard input, and it was empty (printf %s "$KEY" | gatehouse key hash ...)');
    sha256 = hashApiKey(text);
  }
  const entry: Omit<ApiKeyEntry, 'line'> = { name: values.name, sha256, type: values.type satisfies KeyType, apis, ...(values.plan ? { plan: values.plan } : {}) };
  const yamlEntry = stringify([entry], { flowCollectionPadding: false, collectionStyle: 'block' });
  // What is printed must be what the gateway reads: the same checks as a keys file.
  const checked = parseKeysFile(yamlEntry, '(the entry)');
  if (!checked.entries) throw new UsageError(checked.diagnostics.map((d) => d.message).join('; '));

  if (format === 'json') io.stdout.write(`${JSON.stringify({ ...(key ? { key } : {}), entry }, null, 2)}\n`);
  else if (key) io.stdout.write(`The key, shown this once: give it to ${values.name} and keep no copy of it.\n\n  ${key}\n\nThe entry for the keys file:\n\n${yamlEntry}`);
  else io.stdout.write(yamlEntry);
  return EXIT_OK;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}
