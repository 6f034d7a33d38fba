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
(listen.shutdownTimeout), exit 0. While stopping, SIGHUP is ignored and a second SIGTERM or
SIGINT changes nothing; a third stops at once, cutting the requests still in flight (exit 1).

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
  // Installed for the life of the process: a signal without a handler would kill it with its
  // default action, resetting every request in flight.
  process.on('SIGHUP', () => {
    if (gateway.stopping) logger.info({ signal: 'SIGHUP' }, 'stopping: SIGHUP ignored (no reload while requests drain)');
    else void gateway.reloader.reloadNow('SIGHUP');
  });
  const outcome = await new Promise<'stopped' | 'aborted'>((resolve) => {
    let received = 0;
    const onStop = (signal: NodeJS.Signals): void => {
      received++;
      if (received === 1) {
        logger.info({ signal }, 'signal received');
        logger.flush();
        void gateway.stop().then(() => resolve('stopped'));
      } else if (received === 2) {
        logger.warn({ signal }, 'already stopping: requests in flight are finishing within listen.shutdownTimeout; send it once more to stop at once and cut them');
      } else {
        logger.warn({ signal }, 'stopping at once: the connections of requests still in flight are closed');
        void gateway.abort().then(() => resolve('aborted'));
      }
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
  });
  return outcome === 'stopped' ? EXIT_OK : EXIT_FAILED;
}
