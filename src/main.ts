// The command line: parses the command word and hands the rest to the command. The only place
// that knows about exit codes and the process. Commands are loaded on demand, so that `run`
// does not carry the modules of the others.
import { EXIT_FAILED, EXIT_USAGE, UsageError } from './cli/io.js';
import type { CommandIo } from './cli/io.js';
import { suggest } from './text.js';
import { VERSION } from './version.js';

const USAGE = `Gatehouse ${VERSION}: a config-as-code API gateway.

Usage: gatehouse [command] [options]

Commands:
  run [-c gateway.yaml] [--workers N] [--pretty]            serve (the default command)
  validate [-c gateway.yaml] [--format F] [--strict]        check a configuration (exit 0 valid, 1 invalid)
  check [-c gateway.yaml]                                   handshake with every endpoint (exit 1 if any fails)
  plan [-c gateway.yaml] [--against URL]                    what applying the file would change
  cert fetch|import|list                                    capture, import and list certificates
  key new|hash --name N --type T --apis A                   make an API key, or hash one: the entry for the keys file
  import wso2 <project | deployment folder | .zip>          bring in an API exported by WSO2's apictl
  demo-backend [--port 9443]                                the HTTPS echo service of the bundled gateway.yaml
  help [command]                                            this text, or a command's
  version, -v, -V, --version                                the version

Exit codes: 0 ok, 1 invalid or failed, 2 usage error.
`;

/** -v and -V as in nginx, Envoy's --version, and most command-line tools. */
const VERSION_FLAGS = ['--version', '-v', '-V'];

interface CommandModule {
  readonly usage: string;
  run(args: string[], io: CommandIo): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  run: async () => {
    const m = await import('./commands/run.js');
    return { usage: m.RUN_USAGE, run: m.runCommand };
  },
  validate: async () => {
    const m = await import('./commands/validate.js');
    return { usage: m.VALIDATE_USAGE, run: m.validateCommand };
  },
  check: async () => {
    const m = await import('./commands/check.js');
    return { usage: m.CHECK_USAGE, run: m.checkCommand };
  },
  plan: async () => {
    const m = await import('./commands/plan.js');
    return { usage: m.PLAN_USAGE, run: m.planCommand };
  },
  cert: async () => {
    const m = await import('./commands/cert.js');
    return { usage: m.CERT_USAGE, run: m.certCommand };
  },
  key: async () => {
    const m = await import('./commands/key.js');
    return { usage: m.KEY_USAGE, run: m.keyCommand };
  },
  import: async () => {
    const m = await import('./commands/import.js');
    return { usage: m.IMPORT_USAGE, run: m.importCommand };
  },
  'demo-backend': async () => {
    const m = await import('./commands/demo-backend.js');
    return { usage: m.DEMO_BACKEND_USAGE, run: m.demoBackendCommand };
  },
};

function command(name: string | undefined): (() => Promise<CommandModule>) | undefined {
  return name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
}

export async function main(argv: string[], io: CommandIo = processIo()): Promise<number> {
  // `gatehouse` and `gatehouse -c file` run the gateway: run is the default command.
  const first = argv[0];
  const [name, ...args] = first === undefined || (first.startsWith('-') && !['-h', '--help', ...VERSION_FLAGS].includes(first)) ? ['run', ...argv] : argv;
  if (name === 'help' || name === '--help' || name === '-h') {
    const topic = command(args[0]);
    io.stdout.write(topic ? (await topic()).usage : USAGE);
    return 0;
  }
  if (name === 'version' || VERSION_FLAGS.includes(name!)) {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const load = command(name);
  if (!load) {
    io.stderr.write(`gatehouse: unknown command "${name}"${suggest(name!, [...Object.keys(COMMANDS), 'help', 'version'])}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  const entry = await load();
  // `cert` has subcommands, which answer --help themselves.
  const helpFlags = name === 'cert' ? args.slice(0, 1) : args;
  if (helpFlags.includes('--help') || helpFlags.includes('-h')) {
    io.stdout.write(entry.usage);
    return 0;
  }
  try {
    return await entry.run(args, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`gatehouse ${name}: ${e.message}\n\n${entry.usage}`);
      return EXIT_USAGE;
    }
    io.stderr.write(`gatehouse ${name}: ${(e as Error).stack ?? String(e)}\n`);
    return EXIT_FAILED;
  }
}

function processIo(): CommandIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}
