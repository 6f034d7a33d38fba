// The workers' stdout and stderr are pipes to the primary, which writes them to its own: one
// writer per stream, so that lines of different workers never interleave mid-line, however long
// (an access line with a certificate's details can exceed the 4 KiB a pipe writes atomically).
// A chunk is passed on up to its last newline; the rest waits for the next chunk.
import type { Readable } from 'node:stream';

/** A line longer than this without a newline is passed on as it is (it would be cut anyway). */
const MAX_PENDING_BYTES = 1024 * 1024;

/** Above this backlog of the destination, the worker's pipe is no longer read until it is below LOW_WATER. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
const RECHECK_MS = 20;

/**
 * Calls `write` with whole lines of `from`, in order; what is left at its end is ended with a
 * newline. While `backlog()` says the destination is behind, `from` is paused: the worker's pipe
 * fills and the worker's own log destination waits, and drops (counted) at its bound, as one
 * process does when its stdout does not keep up; the primary's memory stays bounded.
 */
export function forwardLines(from: Readable, write: (text: string) => void, backlog: () => number = () => 0): void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const resumeWhenWritten = (): void => {
    if (backlog() > LOW_WATER) setTimeout(resumeWhenWritten, RECHECK_MS).unref();
    else from.resume();
  };
  from.on('data', (chunk: Buffer) => {
    if (backlog() > HIGH_WATER) {
      from.pause();
      setTimeout(resumeWhenWritten, RECHECK_MS).unref();
    }
    const end = chunk.lastIndexOf(0x0a);
    if (end === -1 && pendingBytes + chunk.length < MAX_PENDING_BYTES) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      return;
    }
    const cut = end === -1 ? chunk.length : end + 1;
    // Split at a newline, an ASCII byte: no UTF-8 sequence is cut.
    const head = pending.length === 0 ? chunk.subarray(0, cut) : Buffer.concat([...pending, chunk.subarray(0, cut)]);
    pending = cut < chunk.length ? [chunk.subarray(cut)] : [];
    pendingBytes = chunk.length - cut;
    write(end === -1 ? `${head.toString('utf8')}\n` : head.toString('utf8'));
  });
  from.on('end', () => {
    if (pendingBytes > 0) write(`${Buffer.concat(pending).toString('utf8')}\n`);
    pending = [];
    pendingBytes = 0;
  });
}
