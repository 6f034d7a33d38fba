// Logging: JSON lines with pino, one logger per process, passed to each part that logs. Secrets
// are redacted by path as a second line of defence: code never puts them in a log call.
//
// Where lines go: a log destination that can never stop the proxy. A full disk, /dev/full, a
// closed pipe: the lines that cannot be written are dropped and counted (droppedLogLines), one
// line on stderr says so when it starts and one when the destination works again (with a warning
// in the log, which has a gap), at most once a minute for a destination that keeps failing and
// recovering; requests, reloads and shutdown go on as if nothing happened.
//
// Why not pino.destination (sonic-boom 4.2) with an 'error' listener: its flushSync, which pino
// calls on process exit, sleeps and retries every error other than EAGAIN forever (ENOSPC
// included: the exit never ends, with the listeners still bound and signals never handled); an
// instance cannot bound that loop without rewriting it over sonic-boom's private buffers, and
// after an async error it keeps the failed chunk and retries it with each later line. The
// destination below does the part of sonic-boom this gateway uses (batched async writes to an
// fd) with the failure rules written down; pino and pino-pretty's formatter are used as they are.
import { closeSync, openSync, write as writeAsync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  /** Human-readable lines instead of JSON (`--pretty`). */
  readonly pretty?: boolean;
  /** Colours in pretty lines: by default when stdout is a terminal; false for NO_COLOR. */
  readonly color?: boolean;
  readonly level?: string;
  /** Where lines go; stdout by default. Tests pass an in-memory stream. */
  readonly destination?: DestinationStream;
  /** A worker's number (listen.workers above 1): on every line it writes. */
  readonly worker?: number;
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

/** JSON lines are written in batches of at least this many characters, or after FLUSH_INTERVAL_MS. */
const BUFFER_CHARS = 8 * 1024;
const FLUSH_INTERVAL_MS = 1_000;
/** Lines waiting beyond this (a write that does not finish, a destination that fails) are dropped. */
const MAX_WAITING_CHARS = 4 * 1024 * 1024;
/**
 * A destination that answers EAGAIN (a full non-blocking pipe) is tried again after this. A pipe
 * takes 64 KiB at a time: at 100 ms a worker's stdout, relayed by a primary that had paused,
 * passed 640 KiB/s at most; at 10 ms it passes ten times that, for one failed write per 10 ms
 * while the pipe stays full.
 */
const EAGAIN_RETRY_MS = 10;
/** After a "works again" notice, failures are told at most this often (the count goes on). */
const QUIET_MS = 60_000;

const METRIC = 'gatehouse_log_lines_dropped_total';

let dropped = 0;

/** Log lines dropped since the process started because the log destination failed or did not keep up. */
export function droppedLogLines(): number {
  return dropped;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  let destination = options.destination;
  let own: LogDestination | undefined;
  if (!destination) {
    // isatty, not process.stdout.isTTY: the answer without creating the stdout stream.
    // Buffered, as nginx's access_log buffer=… flush=…: under load, one write per 8 KiB of lines
    // instead of one per line; when quiet, lines wait at most a second; logger.flush() writes at
    // once. Lines for people (--pretty) are written one by one.
    own = openLogDestination(1, options.pretty ? { minChars: 0, format: prettyLines(options.color ?? isatty(1)) } : { minChars: BUFFER_CHARS });
    destination = own;
  }
  const logger = pino(
    {
      name: 'gatehouse',
      level: options.level ?? 'info',
      base: options.worker === undefined ? { pid: process.pid } : { pid: process.pid, worker: options.worker },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    destination,
  );
  if (own) own.onRecovered = (lines) => logger.warn({ droppedLines: lines }, 'the log destination works again; the lines it could not take were dropped');
  return logger;
}

/** The destination a logger writes to, when it is this module's (stdout's, not a test's stream). */
export function destinationOf(logger: Logger): LogDestination | undefined {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
  return stream instanceof LogDestination ? stream : undefined;
}

/** pino-pretty's formatter over the batches of JSON lines the logger and the access log write. */
function prettyLines(color: boolean): (chunk: string) => string {
  const format = pretty.prettyFactory({ colorize: color, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  return (chunk) => {
    let out = '';
    for (const line of chunk.split('\n')) if (line !== '') out += format(line);
    return out;
  };
}

export interface LogDestinationOptions {
  /** Lines are written once this many characters wait (0: at once), else at the next flush. */
  readonly minChars: number;
  /** Turns the JSON lines of a write into what is written (--pretty). */
  readonly format?: (chunk: string) => string;
  /** end() closes the file descriptor (a file this module opened). */
  readonly ownsFd?: boolean;
}

/** Lines to a file descriptor, in order, without ever blocking or throwing (see the file's head). */
export function openLogDestination(fd: number, options: LogDestinationOptions): LogDestination {
  return new LogDestination(fd, options);
}

/**
 * JSON lines appended to a file (created when absent), buffered as stdout's are; the access log's
 * own destination (accessLog.destination). Throws when the file cannot be opened; once open, it
 * fails as every destination here does: lines dropped and counted, never an exception.
 * end() writes what waits and closes the file.
 */
export function openLogFile(file: string): LogDestination {
  return new LogDestination(openSync(file, 'a', 0o640), { minChars: BUFFER_CHARS, ownsFd: true });
}

/** JSON lines on stderr, buffered as stdout's are (accessLog.destination: stderr). */
export function openStderrLog(): LogDestination {
  return new LogDestination(2, { minChars: BUFFER_CHARS });
}

// Why this cannot hang or stop the proxy:
// - every write while serving is asynchronous (fs.write, one at a time); whatever its outcome,
//   its callback decides, and no outcome throws or emits an 'error' event: an error drops the
//   lines that write carried (counted), and the next try is the next flush, with the lines
//   written since;
// - memory is bounded: lines that would make more than MAX_WAITING_CHARS wait are dropped;
// - EAGAIN (a full non-blocking pipe) is retried on an unref'd timer, which never keeps the
//   process alive: a stopped reader cannot hold the exit;
// - the synchronous flush on exit tries each byte once: it goes on only while the kernel takes
//   bytes, and any error or a zero-byte write drops the rest, with no sleep and no retry; the
//   stderr notices are single synchronous writes whose errors are ignored.
// What it cannot bound: a write(2) that blocks inside the kernel (a blocking pipe whose reader
// stopped) holds one thread of libuv's pool, and the natural end of the process waits for it;
// lines meanwhile wait and are dropped at the bound, as above. Node makes the stdout pipe
// non-blocking when process.stdout is first used (main does), so this is for other fds.
export class LogDestination implements DestinationStream {
  readonly #fd: number;
  readonly #minChars: number;
  readonly #format: ((chunk: string) => string) | undefined;
  readonly #ownsFd: boolean;
  #waiting: string[] = [];
  #waitingChars = 0;
  #waitingLines = 0;
  /** The bytes of the write under way: in fs.write, or waiting for an EAGAIN retry. */
  #writing: Buffer | undefined;
  #writingLines = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  /** Why lines are being dropped; undefined while the destination takes them. */
  #failure: string | undefined;
  #lastReason = '';
  /** Lines dropped since the last "works again" notice. */
  #droppedUntold = 0;
  /** A "failed" notice is out and its "works again" is not. */
  #told = false;
  /** No new "failed" notice before this (Date.now()): a flapping destination is told once a minute. */
  #quietUntil = 0;
  readonly #flushed: Array<(error?: Error) => void> = [];
  readonly #interval: NodeJS.Timeout;
  /** Called with each "works again" notice, with the lines dropped since the previous one. */
  onRecovered: ((lines: number) => void) | undefined;

  constructor(fd: number, options: LogDestinationOptions) {
    this.#fd = fd;
    this.#minChars = options.minChars;
    this.#format = options.format;
    this.#ownsFd = options.ownsFd === true;
    this.#interval = setInterval(this.#tick, FLUSH_INTERVAL_MS).unref();
    liveDestinations.add(this);
  }

  write(chunk: string): void {
    // Counted as they come (pino writes one line, the access log a batch): a pretty line may
    // take several lines of text.
    this.#enqueue(this.#format ? this.#format(chunk) : chunk, countLines(chunk));
  }

  /** Like write(), for a caller that knows how many lines `chunk` holds (the access log): no scan to count them. */
  writeLines(chunk: string, lines: number): void {
    this.#enqueue(this.#format ? this.#format(chunk) : chunk, lines);
  }

  /**
   * Whole lines another process wrote and formatted (a worker's, which the primary passes on):
   * in order with this process's own lines, never cut into by them.
   */
  writeFormatted(text: string): void {
    this.#enqueue(text, countLines(text));
  }

  /** Characters handed to this destination and not yet written: a relay pauses its source above a bound. */
  get backlog(): number {
    return this.#waitingChars + (this.#writing?.length ?? 0);
  }

  #enqueue(text: string, lines: number): void {
    if (this.#waitingChars + text.length > MAX_WAITING_CHARS) {
      this.#drop(lines, this.#failure ?? `it does not keep up: ${MAX_WAITING_CHARS / 1024 / 1024} MiB of lines are waiting`);
      return;
    }
    this.#waiting.push(text);
    this.#waitingChars += text.length;
    this.#waitingLines += lines;
    // While failing, only the periodic flush tries again: not one failing write per line.
    if (!this.#writing && this.#failure === undefined && this.#waitingChars >= this.#minChars) this.#writeWaiting();
  }

  /** Writes what waits now; `done` is called when nothing is left to write (written or dropped). */
  flush(done?: (error?: Error) => void): void {
    if (done) this.#flushed.push(done);
    if (!this.#writing && this.#waitingChars > 0) this.#writeWaiting();
    else if (!this.#writing) this.#settleFlushes();
  }

  /** On exit: one synchronous try of everything not yet handed to the kernel. */
  flushSync(): void {
    // A write still in fs.write may complete or not: its bytes are left to it, as sonic-boom does.
    const inPool = this.#writing !== undefined && this.#retryTimer === undefined;
    let bytes = Buffer.from(this.#waiting.join(''));
    let lines = this.#waitingLines;
    if (this.#writing && !inPool) {
      bytes = Buffer.concat([this.#writing, bytes]);
      lines += this.#writingLines;
      this.#writing = undefined;
    }
    this.#waiting = [];
    this.#waitingChars = 0;
    this.#waitingLines = 0;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    while (bytes.length > 0) {
      let n: number;
      try {
        n = writeSync(this.#fd, bytes);
      } catch (error) {
        this.#drop(lines, reasonOf(error));
        return;
      }
      if (n <= 0) {
        this.#drop(lines, 'it took no bytes');
        return;
      }
      bytes = bytes.subarray(n);
      lines = Math.min(lines, countLines(bytes));
    }
  }

  #writeWaiting(): void {
    this.#writing = Buffer.from(this.#waiting.join(''));
    this.#writingLines = this.#waitingLines;
    this.#waiting = [];
    this.#waitingChars = 0;
    this.#waitingLines = 0;
    this.#send();
  }

  readonly #send = (): void => {
    this.#retryTimer = undefined;
    const bytes = this.#writing;
    if (bytes) writeAsync(this.#fd, bytes, 0, bytes.length, null, this.#written);
  };

  readonly #written = (error: NodeJS.ErrnoException | null, n: number): void => {
    const bytes = this.#writing;
    if (!bytes) return; // flushSync took over meanwhile
    if (error && (error.code === 'EAGAIN' || error.code === 'EBUSY')) {
      this.#retryTimer = setTimeout(this.#send, EAGAIN_RETRY_MS).unref();
      return;
    }
    if (error) {
      this.#writing = undefined;
      this.#drop(this.#writingLines, reasonOf(error));
      this.#settleFlushes();
      return;
    }
    if (n > 0 && this.#failure !== undefined) this.#recovered();
    if (n < bytes.length) {
      // The lines not yet written whole; the newlines left are exact for JSON, an upper bound
      // for pretty text.
      this.#writing = bytes.subarray(n);
      this.#writingLines = Math.min(this.#writingLines, countLines(this.#writing));
      this.#send();
      return;
    }
    this.#writing = undefined;
    if (this.#waitingChars > 0 && (this.#waitingChars >= this.#minChars || this.#flushed.length > 0)) this.#writeWaiting();
    else this.#settleFlushes();
  };

  #settleFlushes(): void {
    for (const done of this.#flushed.splice(0)) done();
  }

  readonly #tick = (): void => {
    this.flush();
    // Drops of the quiet time, told once it is over: as a failure if it lasts, else as done.
    if (this.#droppedUntold === 0 || this.#told || Date.now() < this.#quietUntil) return;
    if (this.#failure !== undefined) this.#tellFailure();
    else this.#tellRecovery();
  };

  #drop(lines: number, reason: string): void {
    dropped += lines;
    this.#droppedUntold += lines;
    this.#failure ??= reason;
    this.#lastReason = reason;
    this.#tellFailure();
  }

  #recovered(): void {
    this.#failure = undefined;
    if (this.#told) this.#tellRecovery();
  }

  #tellFailure(): void {
    if (this.#told || this.#failure === undefined || Date.now() < this.#quietUntil) return;
    this.#told = true;
    notice(`the log destination failed (${this.#failure}); log lines are dropped and counted in ${METRIC} until it works again`);
  }

  #tellRecovery(): void {
    const lines = this.#droppedUntold;
    this.#droppedUntold = 0;
    this.#told = false;
    this.#quietUntil = Date.now() + QUIET_MS;
    notice(`the log destination works again; ${lines} log line${lines === 1 ? ' was' : 's were'} dropped while it failed (${this.#lastReason})`);
    this.onRecovered?.(lines);
  }

  /** Stops the periodic flush and the flush on exit (tests). */
  close(): void {
    clearInterval(this.#interval);
    liveDestinations.delete(this);
  }

  /** Writes what waits, then stops; a file this module opened is closed. Resolves when done. */
  end(): Promise<void> {
    return new Promise((resolve) => {
      this.flush(() => {
        this.close();
        if (this.#ownsFd) {
          try {
            closeSync(this.#fd);
          } catch {
            // Already closed: nothing is lost.
          }
        }
        resolve();
      });
    });
  }
}

function countLines(text: string | Buffer): number {
  let lines = 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines++;
  return lines;
}

/** `ENOSPC: no space left on device`: Node's message without the name of the call. */
function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message.replace(/, write$/, '') : String(error);
}

/** One line on stderr, if stderr takes it: it may be on the same full disk. */
function notice(message: string): void {
  try {
    writeSync(2, `gatehouse: ${message}\n`);
  } catch {
    // Nowhere else to say it; droppedLogLines() still counts.
  }
}

const liveDestinations = new Set<LogDestination>();
process.on('exit', () => {
  for (const destination of liveDestinations) destination.flushSync();
});
