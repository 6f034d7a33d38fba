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

export function createLogger(options: LoggerOptions = {}): Logger {
  const destination =
    options.destination ??
    (options.pretty
      ? pretty({ colorize: process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
      : pino.destination({ sync: false }));
  return pino(
    {
      name: 'gatehouse',
      level: options.level ?? 'info',
      base: { pid: process.pid },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
