// Logging: JSON lines with pino, one logger per process, child loggers per component. Secrets
// are redacted by path as a second line of defence: code never puts them in a log call.
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  /** Human-readable lines instead of JSON (`--pretty`). */
  readonly pretty?: boolean;
  readonly level?: string;
  /** Where lines go; stdout by default. Tests pass an in-memory stream. */
  readonly destination?: DestinationStream;
}

export const REDACTED_PATHS = [
  'token',
  'passphrase',
  'authorization',
  'cookie',
  '*.token',
  '*.passphrase',
  '*.authorization',
  '*.cookie',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
];

/** Lines are written in batches of at least this many bytes (sonic-boom takes up to 16 KiB), or after FLUSH_INTERVAL_MS. */
const BUFFER_BYTES = 8 * 1024;
const FLUSH_INTERVAL_MS = 1_000;

export function createLogger(options: LoggerOptions = {}): Logger {
  let destination = options.destination;
  if (!destination && options.pretty) {
    destination = pretty({ colorize: process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  } else if (!destination) {
    // Buffered, as nginx's access_log buffer=… flush=…: under load, one write per 8 KiB of lines
    // instead of one per line; when quiet, lines wait at most a second. Start-up, errors and
    // shutdown flush at once (flushLogs).
    const stream = pino.destination({ sync: false, minLength: BUFFER_BYTES });
    setInterval(() => stream.flush(), FLUSH_INTERVAL_MS).unref();
    destination = stream;
  }
  return pino(
    {
      name: 'gatehouse',
      level: options.level ?? 'info',
      base: { pid: process.pid },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}
