// gatehouse run [-c gateway.yaml] [--pretty] [--log-level LEVEL]
// Serves until SIGTERM or SIGINT, then stops gracefully and exits 0. A configuration with errors
// never starts: every error is printed, as `validate` prints it, and the exit code is 1.
import path from 'node:path';
import { EXIT_FAILED, EXIT_OK, UsageError, configFileArg, parseCommandArgs } from '../cli/io.js';
import type { CommandIo } from '../cli/io.js';
import { formatText } from '../diagnostics.js';
import { startGateway } from '../gateway.js';
import type { Gateway } from '../gateway.js';
import { createLogger } from '../log.js';
import type { Logger } from '../log.js';

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
  // Handlers for the life of the process, from before the gateway starts: a signal without one
  // kills the process with its default action, resetting every request in flight.
  const signals = new Signals(logger);
  try {
    const started = await startGateway({ configPath: file, env: io.env, logger });
    if (!started.gateway) {
      io.stderr.write(formatText(started.diagnostics, io.cwd));
      io.stderr.write(`gatehouse run: ${path.relative(io.cwd, file) || file} has errors; nothing started\n`);
      return EXIT_FAILED;
    }
    return (await signals.serve(started.gateway)) === 'stopped' ? EXIT_OK : EXIT_FAILED;
  } finally {
    signals.remove();
  }
}

/**
 * SIGHUP reloads; the first SIGTERM or SIGINT stops gracefully. While stopping, SIGHUP is ignored
 * and a second stop signal changes nothing (it is easy to press Ctrl-C twice); a third stops at
 * once, cutting what is still in flight. A signal that arrives while the gateway starts is acted
 * on once it has started (a SIGHUP then reloads: the files may have changed since they were read).
 */
class Signals {
  #gateway: Gateway | undefined;
  #received = 0;
  /** A SIGHUP came while the gateway started: reload once it has (the files may have changed since they were read). */
  #hangupWhileStarting = false;
  #done: ((outcome: 'stopped' | 'aborted') => void) | undefined;
  readonly #outcome = new Promise<'stopped' | 'aborted'>((resolve) => (this.#done = resolve));

  constructor(private readonly logger: Logger) {
    process.on('SIGHUP', this.#onHangup);
    process.on('SIGTERM', this.#onStop);
    process.on('SIGINT', this.#onStop);
  }

  /** Resolves once the gateway stopped: 'stopped' gracefully, 'aborted' by a third signal. */
  serve(gateway: Gateway): Promise<'stopped' | 'aborted'> {
    this.#gateway = gateway;
    if (this.#received > 0) this.#act(undefined);
    else if (this.#hangupWhileStarting) void gateway.reloader.reloadNow('SIGHUP');
    return this.#outcome;
  }

  remove(): void {
    process.off('SIGHUP', this.#onHangup);
    process.off('SIGTERM', this.#onStop);
    process.off('SIGINT', this.#onStop);
  }

  readonly #onHangup = (): void => {
    const gateway = this.#gateway;
    if (!gateway) this.#hangupWhileStarting = true;
    else if (gateway.stopping) this.logger.info({ signal: 'SIGHUP' }, 'stopping: SIGHUP ignored (no reload while requests drain)');
    else void gateway.reloader.reloadNow('SIGHUP');
  };

  readonly #onStop = (signal: NodeJS.Signals): void => {
    this.#received++;
    if (this.#gateway) this.#act(signal);
  };

  #act(signal: NodeJS.Signals | undefined): void {
    const gateway = this.#gateway!;
    if (this.#received >= 3) {
      this.logger.warn({ signal }, 'stopping at once: the connections of requests still in flight are closed');
      void gateway.abort().then(() => this.#done!('aborted'));
    } else if (!gateway.stopping) {
      this.logger.info({ signal }, 'signal received');
      this.logger.flush();
      void gateway.stop().then(() => this.#done!('stopped'));
    } else {
      this.logger.warn({ signal }, 'already stopping: requests in flight are finishing within listen.shutdownTimeout; send it once more to stop at once and cut them');
    }
  }
}
