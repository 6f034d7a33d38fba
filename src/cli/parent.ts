// Noticing that the process which started this one is gone. npm (npm start, npm run, npx) does
// not pass SIGTERM or SIGHUP on to what it runs: it exits, and what it ran is reparented and runs
// on, with its ports, where nobody will stop it. Under npm, the parent changing (or npm, above
// the shell it runs scripts with, exiting while that shell stays) is the signal npm did not pass.
import { spawnSync } from 'node:child_process';
import process from 'node:process';

const EVERY_MS = 500;

/** True when npm started this process (it sets npm_command for npm exec/npx, npm_lifecycle_event for scripts). */
export function startedByNpm(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.npm_command !== undefined || env.npm_lifecycle_event !== undefined;
}

/**
 * Calls `onGone` once when the parent process changes, or when the parent's own parent (npm above
 * its shell) exits. Checked twice a second by a timer that never keeps the process alive.
 * Returns a function that stops watching.
 */
export function watchParent(onGone: () => void): () => void {
  const parent = process.ppid;
  const above = parentOf(parent);
  const timer = setInterval(() => {
    if (process.ppid === parent && !(above > 1 && gone(above))) return;
    clearInterval(timer);
    onGone();
  }, EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** The parent of `pid`, or 0 when it cannot be told (no `ps`). */
function parentOf(pid: number): number {
  const ps = spawnSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' });
  return Number(ps.stdout?.trim()) || 0;
}

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
