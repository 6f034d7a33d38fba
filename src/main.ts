// The command line: parses the command word and hands the rest to the command. The only place
// that knows about exit codes and the process.
import { readFileSync } from 'node:fs';
import { EXIT_FAILED, EXIT_USAGE, UsageError } from './cli/io.js';
import type { CommandIo } from './cli/io.js';
import { DEMO_BACKEND_USAGE, demoBackendCommand } from './commands/demo-backend.js';
import { RUN_USAGE, runCommand } from './commands/run.js';
import { VALIDATE_USAGE, validateCommand } from './commands/validate.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const USAGE = `Gatehouse ${VERSION}: a config-as-code API gateway.

Usage: gatehouse <command> [options]

Commands:
  run [-c gateway.yaml] [--pretty]                          serve (the default command)
  validate [-c gateway.yaml] [--format text|json|github]   check a configuration (exit 0 valid, 1 invalid)
  demo-backend [--port 9443]                                the HTTPS echo service of the bundled gateway.yaml
  help [command]                                            this text, or a command's
  version                                                   the version

Exit codes: 0 ok, 1 invalid or failed, 2 usage error.
`;

type Command = (args: string[], io: CommandIo) => Promise<number>;

const COMMANDS: Record<string, { run: Command; usage: string }> = {
  run: { run: runCommand, usage: RUN_USAGE },
  validate: { run: validateCommand, usage: VALIDATE_USAGE },
  'demo-backend': { run: demoBackendCommand, usage: DEMO_BACKEND_USAGE },
};

export async function main(argv: string[], io: CommandIo = processIo()): Promise<number> {
  // `gatehouse` and `gatehouse -c file` run the gateway (SPEC §6: run is the default command).
  const [command, ...args] = argv.length === 0 || argv[0]!.startsWith('-') && !['-h', '--help', '--version'].includes(argv[0]!) ? ['run', ...argv] : argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    const topic = args[0] !== undefined ? COMMANDS[args[0]] : undefined;
    io.stdout.write(topic ? topic.usage : USAGE);
    return 0;
  }
  if (command === 'version' || command === '--version') {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!entry) {
    io.stderr.write(`gatehouse: unknown command "${command}"\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(entry.usage);
    return 0;
  }
  try {
    return await entry.run(args, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`gatehouse ${command}: ${e.message}\n\n${entry.usage}`);
      return EXIT_USAGE;
    }
    io.stderr.write(`gatehouse ${command}: ${(e as Error).stack ?? String(e)}\n`);
    return EXIT_FAILED;
  }
}

function processIo(): CommandIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}
