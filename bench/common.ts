// What the benchmarks share: a temporary folder removed on exit with the demo backend's
// self-signed certificate in it, and the median of the rounds.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDemoCertificate } from '../src/demo/backend.js';

/** A folder for one run (removed when the process exits), with the backend's certificate and key. */
export function benchWorkspace(prefix: string): { work: string; cert: string; certPath: string; keyPath: string } {
  const work = mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));
  const { cert } = ensureDemoCertificate(path.join(work, 'state'));
  return { work, cert, certPath: path.join(work, 'state', 'demo-backend.crt'), keyPath: path.join(work, 'state', 'demo-backend.key') };
}

/** The median: on a shared machine one disturbed round should not move the result. */
export function median(list: readonly number[]): number {
  const sorted = [...list].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
