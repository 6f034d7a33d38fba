// listen.workers: auto, read from a cgroup file system laid out as Linux lays it out (v2 and v1),
// and the whole lines the primary passes on from a worker's pipe.
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { reusePortAvailable } from '../../src/workers/balance.js';
import { cpuLimit, workerCount } from '../../src/workers/count.js';
import { forwardLines } from '../../src/workers/output.js';

t.test('auto: the CPUs this process may use, bounded by the cgroup’s CPU limit, rounded up', async (t) => {
  const cpus = os.availableParallelism();
  const v2 = (max: string) => t.testdir({ 'cpu.max': `${max}\n` });
  t.equal(cpuLimit(v2('max 100000')), undefined, 'no limit');
  t.equal(cpuLimit(v2('150000 100000')), 2, '1.5 CPUs: 2 workers');
  t.equal(cpuLimit(v2('100000 100000')), 1);
  t.equal(workerCount('auto', v2('100000 100000')), 1, 'a pod limited to one CPU runs one worker');
  t.equal(workerCount('auto', v2('max 100000')), cpus, 'without a limit, one per CPU');
  t.equal(workerCount('auto', v2(`${(cpus + 8) * 100000} 100000`)), cpus, 'a limit above the CPUs changes nothing');
  const v1 = t.testdir({ cpu: { 'cpu.cfs_quota_us': '50000\n', 'cpu.cfs_period_us': '100000\n' } });
  t.equal(cpuLimit(v1), 1, 'cgroup v1: half a CPU is one worker');
  const v1free = t.testdir({ cpu: { 'cpu.cfs_quota_us': '-1\n', 'cpu.cfs_period_us': '100000\n' } });
  t.equal(cpuLimit(v1free), undefined, 'cgroup v1 without a limit');
  t.equal(cpuLimit(path.join(t.testdir({}), 'absent')), undefined, 'no cgroup file system');
  t.equal(workerCount(3, v2('100000 100000')), 3, 'a number is taken as it is');
});

t.test('reusePort: Node 22.12+, 23.1+, on Linux and FreeBSD', async (t) => {
  t.equal(reusePortAvailable('20.19.0', 'linux'), false);
  t.equal(reusePortAvailable('22.11.0', 'linux'), false);
  t.equal(reusePortAvailable('22.12.0', 'linux'), true);
  t.equal(reusePortAvailable('23.0.0', 'linux'), false);
  t.equal(reusePortAvailable('23.1.0', 'linux'), true);
  t.equal(reusePortAvailable('24.0.0', 'linux'), true);
  t.equal(reusePortAvailable('24.0.0', 'darwin'), false);
});

t.test('a worker’s output is passed on in whole lines, whatever the chunks', async (t) => {
  const pipe = new PassThrough();
  const written: string[] = [];
  forwardLines(pipe, (text) => written.push(text));
  pipe.write('{"a":1}\n{"b":');
  pipe.write('2}\n{"c":"é');
  pipe.write(Buffer.from('té"}\n'));
  pipe.write('no newline at the end');
  pipe.end();
  await new Promise((resolve) => pipe.on('end', resolve));
  t.same(written, ['{"a":1}\n', '{"b":2}\n', '{"c":"été"}\n', 'no newline at the end\n']);
  t.ok(written.every((text) => text.endsWith('\n')), 'every write ends a line');
});

t.test('while the destination is behind, the worker’s pipe is not read', async (t) => {
  const pipe = new PassThrough();
  let backlog = 2 * 1024 * 1024;
  const written: string[] = [];
  forwardLines(pipe, (text) => written.push(text), () => backlog);
  pipe.write('one\n');
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(pipe.isPaused(), true, 'paused above the high-water mark');
  pipe.write('two\n');
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.same(written, ['one\n'], 'nothing more is read while behind');
  backlog = 0;
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.same(written, ['one\n', 'two\n'], 'read again once the destination caught up');
});
