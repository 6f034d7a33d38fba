// gatehouse run [-c gateway.yaml] [--pretty] [--log-level LEVEL]
// Serves until SIGTERM or SIGINT, then stops gracefully and exits 0. A configuration with errors
// never starts: every error is printed, as `validate` prints it, and the exit code is 1.
import path from 'node:path';
import { EXIT_FAILED, EXIT_OK, UsageError, configFileArg, parseCommandArgs } from '../cli/io.js';
import type { CommandIo } from '../cli/io.js';
import { formatText } from '../diagnostics.js';
import { startGateway } from '../gateway.js';
import { createLogger } from '../log.js';

export const RUN_USAGE = `Usage: gatehouse run [-c gateway.yaml] [--pretty] [--log-level info]

Serves the APIs of the configuration, and applies changes to it and to the certificates folder
at most once per reload.interval. Logs are JSON lines on stdout (--pretty for people).
SIGHUP: reload at once. SIGTERM or SIGINT: stop accepting, let requests in flight finish
(listen.shutdownTimeout), exit 0.

Options:
  -c, --config FILE    the configuration (default: gateway.yaml in the current folder)
  --pretty             human-readable logs
  --log-level LEVEL    trace, debug, info (default), warn, error
`;

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

export async function runCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    config: { type: 'string', short: 'c', default: 'gateway.yaml' },
    pretty: { type: 'boolean', default: false },
    'log-level': { type: 'string', default: 'info' },
  });
  const level = values['log-level'];
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')} (got "${level}")`);

  const logger = createLogger({ pretty: values.pretty, level });
  const file = configFileArg(io, values.config, positionals);
  const started = await startGateway({ configPath: file, env: io.env, logger });
  if (!started.gateway) {
    io.stderr.write(formatText(started.diagnostics, io.cwd));
    io.stderr.write(`gatehouse run: ${path.relative(io.cwd, file) || file} has errors; nothing started\n`);
    return EXIT_FAILED;
  }
  const { gateway } = started;
  const onHangup = () => void gateway.reloader.reloadNow('SIGHUP');
  process.on('SIGHUP', onHangup);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  process.off('SIGHUP', onHangup);
  logger.info({ signal }, 'signal received');
  logger.flush();
  await gateway.stop();
  return EXIT_OK;
}
