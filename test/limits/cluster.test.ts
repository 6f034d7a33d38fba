// The memory store with node:cluster workers: the two workers of one process draw from one count,
// which the primary hosts, while Gatehouse-like messages cross the same IPC channel.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { LimitOutcome } from '../../src/limits/store.js';

const FIXTURE = fileURLToPath(new URL('fixtures/cluster.ts', import.meta.url));

interface Result {
  readonly outcomes: LimitOutcome[][];
  readonly answered: number;
  readonly limitMessagesSkipped: number[];
  readonly primaryConsume: string;
}

function runCluster(times: number, limit: number): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, String(times), String(limit)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`the cluster fixture exited with ${signal ?? code}:\n${stderr}`));
      resolve(JSON.parse(stdout) as Result);
    });
  });
}

t.test('two workers draw from one count, hosted by the primary', async (t) => {
  // 8 requests on each worker, all in flight at once, against a limit of 10: one count allows 10
  // in all; a count per worker would allow all 16.
  const result = await runCluster(8, 10);
  const all = result.outcomes.flat();
  t.equal(all.length, 16);
  const allowed = all.filter((o) => o.kind === 'allowed');
  t.equal(allowed.length, 10, '10 allowed across both workers');
  t.same(
    allowed.map((o) => o.remaining).sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    'each allowed request saw the one count',
  );
  t.equal(all.filter((o) => o.kind === 'limited').length, 6);
  t.ok(
    result.outcomes.every((outcomes) => outcomes.some((o) => o.kind === 'allowed')),
    'both workers were allowed some',
  );
  t.equal(result.answered, 40, "Gatehouse's own messages were all answered meanwhile");
  t.ok(
    result.limitMessagesSkipped.every((n) => n >= 8),
    `the workers' own listeners saw (and skipped) the counters' messages: ${result.limitMessagesSkipped.join(', ')}`,
  );
  t.match(result.primaryConsume, /the cluster primary serves no requests/);
});
