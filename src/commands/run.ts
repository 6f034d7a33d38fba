// gatehouse run [-c gateway.yaml] [--pretty] [--log-level LEVEL]
// Serves until SIGTERM or SIGINT, then stops gracefully and exits 0. A configuration with errors
// never starts: every error is printed, as `validate` prints it, and the exit code is 1.
import cluster from 'node:cluster';
import path from 'node:path';
import { isatty } from 'node:tty';
import { EXIT_FAILED, EXIT_OK, UsageError, configFileArg, parseCommandArgs } from '../cli/io.js';
import { startedByNpm, watchParent } from '../cli/parent.js';
import type { CommandIo } from '../cli/io.js';
import { formatText } from '../diagnostics.js';
import { startGateway } from '../gateway.js';
import type { Gateway } from '../gateway.js';
import { createLogger } from '../log.js';
import { isGatehouseWorker, runWorker } from '../workers/worker.js';
import type { Logger } from '../log.js';

export const RUN_USAGE = `Usage: gatehouse run [-c gateway.yaml] [--workers N|auto] [--pretty] [--log-level info]

Serves the APIs of the configuration, and applies changes to it and to the certificates folder
at most once per reload.interval. Logs are JSON lines on stdout (--pretty for people).

Signals:
  SIGHUP           reload at once
  SIGTERM          stop: /readyz answers 503 at once, connections are still accepted for
                   listen.shutdownDelay (5 s) while load balancers move away, then requests in
                   flight finish within listen.shutdownTimeout (20 s); exit 0
  SIGINT (Ctrl-C)  the same without the delay
  a second one     stop at once: what is cut is logged, exit 1

Options:
  -c, --config FILE    the configuration (default: $GATEHOUSE_CONFIG, else gateway.yaml in the
                       current folder)
  --workers N|auto     worker processes that serve requests (default: listen.workers, else 1);
                       auto is one per CPU this process may use
  --pretty             human-readable logs (colours unless NO_COLOR is set)
  --log-level LEVEL    trace, debug, info (default: $GATEHOUSE_LOG_LEVEL, else info), warn, error
`;

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

export async function runCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    config: { type: 'string', short: 'c' },
    pretty: { type: 'boolean', default: false },
    'log-level': { type: 'string' },
    workers: { type: 'string' },
  });
  // A process node:cluster started for a primary: it serves what the primary sends.
  if (isGatehouseWorker()) {
    const code = await runWorker();
    if (process.connected) process.disconnect();
    return code;
  }
  const fromEnv = values['log-level'] === undefined && Boolean(io.env.GATEHOUSE_LOG_LEVEL);
  const level = values['log-level'] ?? (io.env.GATEHOUSE_LOG_LEVEL || 'info');
  if (!LEVELS.includes(level)) throw new UsageError(`${fromEnv ? 'GATEHOUSE_LOG_LEVEL' : '--log-level'} must be one of ${LEVELS.join(', ')} (got "${level}")`);

  const workers = values.workers === undefined ? undefined : workersArg(values.workers);
  // NO_COLOR (no-color.org): set and not empty turns colours off.
  const color = io.env.NO_COLOR ? false : isatty(1);
  const logger = createLogger({ pretty: values.pretty, level, color });
  const file = configFileArg(io, values.config, positionals);
  // Handlers for the life of the process, from before the gateway starts: a signal without one
  // kills the process with its default action, resetting every request in flight.
  const signals = new Signals(logger);
  try {
    const started = await startGateway({ configPath: file, env: io.env, logger, logging: { pretty: values.pretty, color, level }, ...(workers !== undefined ? { workers } : {}) });
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

/** --workers: auto or a whole number from 1 to 1024, as listen.workers. */
function workersArg(value: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  const n = Number(value);
  if (!/^[1-9][0-9]*$/.test(value) || n > 1024) throw new UsageError(`--workers must be auto or a whole number from 1 to 1024 (got "${value}")`);
  return n;
}

/**
 * SIGHUP reloads; the first SIGTERM stops gracefully after listen.shutdownDelay, the first SIGINT
 * (a person at a terminal, no load balancer to wait for) without it. A second stop signal stops at
 * once, cutting what is still in flight, and says how much. A signal that arrives while the
 * gateway starts is acted on once it has started (a SIGHUP then reloads: the files may have
 * changed since they were read).
 *
 * Started with an IPC channel (by `npm start`'s wrapper, or any supervisor that spawns it so), the
 * gateway also stops when that channel closes: its parent is gone, and an orphaned gateway would
 * keep its ports.
 */
class Signals {
  #gateway: Gateway | undefined;
  #received: StopCause[] = [];
  /** A SIGHUP came while the gateway started: reload once it has (the files may have changed since they were read). */
  #hangupWhileStarting = false;
  #aborted = false;
  #unwatchNpm: (() => void) | undefined;
  #done: ((outcome: 'stopped' | 'aborted') => void) | undefined;
  readonly #outcome = new Promise<'stopped' | 'aborted'>((resolve) => (this.#done = resolve));

  constructor(private readonly logger: Logger) {
    process.on('SIGHUP', this.#onHangup);
    process.on('SIGTERM', this.#onStop);
    process.on('SIGINT', this.#onStop);
    if (process.channel && !cluster.isWorker) {
      // The channel must not keep the process alive by itself.
      process.channel.unref();
      process.on('disconnect', this.#onParentGone);
    } else if (startedByNpm()) {
      // npx, npm start: npm exits on SIGTERM without passing it on. Its leaving is taken for the
      // SIGTERM it swallowed, delay included (the gateway may be behind a load balancer).
      this.#unwatchNpm = watchParent(() => this.#cause('npm'));
    }
  }

  /** Resolves once the gateway stopped: 'stopped' gracefully, 'aborted' by a second signal. */
  serve(gateway: Gateway): Promise<'stopped' | 'aborted'> {
    this.#gateway = gateway;
    const received = this.#received;
    this.#received = [];
    for (const cause of received) this.#act(cause);
    if (received.length === 0 && this.#hangupWhileStarting) void gateway.reloader.reloadNow('SIGHUP');
    return this.#outcome;
  }

  remove(): void {
    process.off('SIGHUP', this.#onHangup);
    process.off('SIGTERM', this.#onStop);
    process.off('SIGINT', this.#onStop);
    process.off('disconnect', this.#onParentGone);
    this.#unwatchNpm?.();
  }

  readonly #onHangup = (): void => {
    const gateway = this.#gateway;
    if (!gateway) this.#hangupWhileStarting = true;
    else if (gateway.stopping) this.logger.info({ signal: 'SIGHUP' }, 'stopping: SIGHUP ignored (no reload while requests drain)');
    else void gateway.reloader.reloadNow('SIGHUP');
  };

  readonly #onStop = (signal: NodeJS.Signals): void => this.#cause(signal);

  readonly #onParentGone = (): void => this.#cause('parent');

  #cause(cause: StopCause): void {
    if (this.#gateway) this.#act(cause);
    else this.#received.push(cause);
  }

  #act(cause: StopCause): void {
    const gateway = this.#gateway!;
    const signal = cause === 'parent' || cause === 'npm' ? undefined : cause;
    if (!gateway.stopping) {
      if (cause === 'parent') this.logger.warn('the process that started the gateway is gone (its IPC channel closed): stopping');
      else if (cause === 'npm') this.logger.warn('npm, which started the gateway, is gone (it does not pass SIGTERM on): stopping as on SIGTERM');
      else this.logger.info({ signal }, 'signal received');
      this.logger.flush();
      // Once aborted, stop() ends early too; the outcome is abort()'s.
      void gateway.stop({ delay: cause === 'SIGTERM' || cause === 'npm' }).then(() => this.#aborted || this.#done!('stopped'));
    } else if (signal && !this.#aborted) {
      this.logger.warn({ signal, inFlight: gateway.inFlight }, `stopping at once (second ${signal}): ${gateway.inFlight} request(s) in flight cut, their connections closed`);
      this.#aborted = true;
      void gateway.abort().then(() => this.#done!('aborted'));
    }
  }
}

/** What stops the gateway: a signal, the parent's IPC channel closing, or npm above it exiting. */
type StopCause = NodeJS.Signals | 'parent' | 'npm';
