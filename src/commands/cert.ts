// gatehouse cert fetch|import|list: the certificates folder from the command line. Each
// subcommand lives in its own module, loaded on demand.
import { EXIT_USAGE, UsageError } from '../cli/io.js';
import type { CommandIo } from '../cli/io.js';

export const CERT_USAGE = `Usage: gatehouse cert <fetch|import|list> [options]

  cert fetch <https-url> --alias NAME [--sha256 FP] [--force]   capture the chain a backend presents into certs/NAME.crt
  cert import <file.jks|file.p12|file.pfx> [--password P]      write each trusted entry as certs/<alias>.crt
  cert list [-c gateway.yaml]                                   the inventory: alias, subject, SANs, expiry, used by

Run \`gatehouse cert <subcommand> --help\` for its options.
`;

interface Subcommand {
  readonly usage: string;
  run(args: string[], io: CommandIo): Promise<number>;
}

const SUBCOMMANDS: Record<string, () => Promise<Subcommand>> = {
  fetch: async () => {
    const m = await import('./cert-fetch.js');
    return { usage: m.CERT_FETCH_USAGE, run: m.certFetchCommand };
  },
  import: async () => {
    const m = await import('./cert-import.js');
    return { usage: m.CERT_IMPORT_USAGE, run: m.certImportCommand };
  },
  list: async () => {
    const m = await import('./cert-list.js');
    return { usage: m.CERT_LIST_USAGE, run: m.certListCommand };
  },
};

export async function certCommand(args: string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = args;
  const load = name !== undefined && Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
  if (!load) throw new UsageError(name === undefined ? 'a subcommand is needed: fetch, import or list' : `unknown subcommand "${name}" (fetch, import or list)`);
  const sub = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(sub.usage);
    return 0;
  }
  try {
    return await sub.run(rest, io);
  } catch (e) {
    // Usage errors of a subcommand show the subcommand's usage, not the list of subcommands.
    if (e instanceof UsageError) {
      io.stderr.write(`gatehouse cert ${name}: ${e.message}\n\n${sub.usage}`);
      return EXIT_USAGE;
    }
    throw e;
  }
}
