// A log destination that fails must never stop the proxy: stdout on /dev/full, or a file on a
// tiny file system that is full, then freed. The built gateway runs as a user runs it, with its
// stdout there; requests, /healthz, SIGHUP and SIGTERM still work, one line on stderr says that
// log lines are dropped, and lines flow again once there is room. Every wait has a deadline: a
// hang detector, generous for a busy machine.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { droppedLogLines, openLogDestination } from '../../src/log.js';
import { startBackend } from '../helpers/backend.js';
import { BIN } from '../helpers/cli.js';
import { request } from '../helpers/client.js';
import { freePort } from '../helpers/process.js';

const DEADLINE_MS = 20_000;
const FAILED = /the log destination failed/g;
const WORKS_AGAIN = /the log destination works again/g;

async function within<T>(promise: Promise<T>, what: string, ms = DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms (hung?)`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Until `check` holds, with a deadline: for states that no event announces (a port, a file). */
async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  let stopped = false;
  const poll = async () => {
    // A check may itself hang (a request a hung gateway accepted): the deadline covers it too.
    while (!stopped && !(await Promise.resolve().then(check).catch(() => false))) await new Promise((resolve) => setTimeout(resolve, 50));
  };
  try {
    await within(poll(), what);
  } finally {
    stopped = true;
  }
}

interface Running {
  readonly child: ChildProcess;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
  readonly proxy: string;
  readonly admin: string;
}

async function gatewayFolder(t: Test): Promise<{ dir: string; proxy: string; admin: string }> {
  const backend = await startBackend(t);
  // The gateway's stdout is unusable, so its ports are chosen here.
  const [http, admin] = [await freePort(), await freePort()];
  const dir = t.testdir({
    'gateway.yaml': `version: 1
listen: { http: "127.0.0.1:${http}", shutdownTimeout: 5s }
admin: { address: "127.0.0.1:${admin}" }
apis:
  - { name: Test, context: /api, version: v1, endpoints: { production: { url: "${backend.url}" } } }
`,
  });
  return { dir, proxy: `http://127.0.0.1:${http}`, admin: `http://127.0.0.1:${admin}` };
}

/** Starts `command` (the gateway, or a wrapper that execs it) and waits for /healthz. */
async function start(t: Test, folder: { dir: string; proxy: string; admin: string }, command: string, args: string[], stdout: number | 'ignore'): Promise<Running> {
  const child = spawn(command, args, { cwd: folder.dir, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', stdout, 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await Promise.race([
    until(async () => (await request(`${folder.admin}/healthz`)).status === 200, 'GET /healthz after the start'),
    exited.then((code) => {
      throw new Error(`the gateway exited with ${code} before answering:\n${stderr}`);
    }),
  ]);
  return { child, stderr: () => stderr, exited, proxy: folder.proxy, admin: folder.admin };
}

/** Requests, /healthz, SIGHUP (a reload, seen in /metrics): all work while every log line is dropped. */
async function servesWhileLinesAreDropped(t: Test, gw: Running): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const res = await within(request(`${gw.proxy}/api/v1/orders/${i}`), `request ${i} through the gateway`);
    t.equal(res.status, 200, `request ${i} answered by the backend`);
  }
  t.equal((await within(request(`${gw.admin}/healthz`), 'GET /healthz')).status, 200, '/healthz answers');
  // The files are unchanged: the reload SIGHUP runs is counted as such in /metrics.
  gw.child.kill('SIGHUP');
  await until(async () => /^gatehouse_config_reloads_total\{result="unchanged"\} [1-9]/m.test((await request(`${gw.admin}/metrics`)).text), 'a reload for SIGHUP in /metrics');
  t.equal(gw.child.exitCode, null, 'SIGHUP reloaded; the gateway still runs');
  t.equal((await within(request(`${gw.proxy}/api/v1/after-reload`), 'a request after SIGHUP')).status, 200);
  const dropped = Number(/^gatehouse_log_lines_dropped_total (\d+)$/m.exec((await request(`${gw.admin}/metrics`)).text)?.[1]);
  t.ok(dropped > 0, `the lines dropped are counted in /metrics (gatehouse_log_lines_dropped_total ${dropped})`);
}

async function stopsOnSigterm(t: Test, gw: Running): Promise<void> {
  gw.child.kill('SIGTERM');
  t.equal(await within(gw.exited, 'exit after SIGTERM'), 0, 'SIGTERM: exit 0');
}

for (const pretty of [false, true]) {
  t.test(`stdout on /dev/full${pretty ? ' (--pretty)' : ''}: the gateway serves, reloads and stops; one line on stderr says lines are dropped`, async (t) => {
    const folder = await gatewayFolder(t);
    const full = openSync('/dev/full', 'w');
    t.teardown(() => closeSync(full));
    const gw = await start(t, folder, process.execPath, [BIN, 'run', ...(pretty ? ['--pretty'] : [])], full);
    await servesWhileLinesAreDropped(t, gw);
    await stopsOnSigterm(t, gw);
    const stderr = gw.stderr();
    t.equal(stderr.match(FAILED)?.length, 1, `said once, not once per line:\n${stderr}`);
    t.match(stderr, /\(ENOSPC: no space left on device\); log lines are dropped and counted in gatehouse_log_lines_dropped_total/);
    t.notMatch(stderr, WORKS_AGAIN, '/dev/full never takes a line');
  });
}

// A real file system of 64 KiB, full, as a user can make one: a tmpfs mounted in a user and mount
// namespace of the gateway's own (unshare), where the gateway appends its stdout to a file.
// Freeing the room (removing the file that filled it, through /proc/<pid>/root) is the operator
// cleaning the disk.
const unshare = ['--user', '--map-root-user', '--mount'];
function canMount(): boolean {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-mount-'));
  try {
    return spawnSync('unshare', [...unshare, 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$0"', dir]).status === 0;
  } finally {
    rmSync(dir, { recursive: true });
  }
}
const noMount = canMount() ? false : 'no unprivileged user and mount namespaces here (unshare): the /dev/full cases cover ENOSPC';

t.test('stdout a file on a full file system: served while full; once room is made, lines flow again and the gap is reported', { skip: noMount }, async (t) => {
  const folder = await gatewayFolder(t);
  const disk = path.join(folder.dir, 'disk');
  mkdirSync(disk);
  const script = 'mount -t tmpfs -o size=64k tmpfs disk || exit 97\nhead -c 1048576 /dev/zero > disk/filler 2>/dev/null\nexec "$1" "$2" run >> disk/gateway.log';
  const gw = await start(t, folder, 'unshare', [...unshare, 'sh', '-c', script, 'gatehouse', process.execPath, BIN], 'ignore');
  const inside = (file: string) => path.join(`/proc/${gw.child.pid}/root`, disk, file);

  await servesWhileLinesAreDropped(t, gw);
  t.equal(gw.stderr().match(FAILED)?.length, 1, `said once:\n${gw.stderr()}`);
  t.match(gw.stderr(), /ENOSPC/);
  t.equal(readFileSync(inside('gateway.log'), 'utf8'), '', 'nothing could be written');

  rmSync(inside('filler'));
  const lines = () => readFileSync(inside('gateway.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  let n = 0;
  await until(async () => {
    t.equal((await request(`${gw.proxy}/api/v1/after-room-${n++}`)).status, 200);
    return lines().some((l) => typeof l.path === 'string' && l.path.startsWith('/api/v1/after-room-'));
  }, 'access lines in the log once there is room');
  await until(() => lines().some((l) => l.msg === 'the log destination works again; the lines it could not take were dropped'), 'the gap reported in the log');
  // Each line of the time it was full is either written (it waited, and went out once there was
  // room) or counted; "gateway listening" was flushed at the start, onto the full disk.
  const dropped = lines().find((l) => typeof l.droppedLines === 'number')!.droppedLines as number;
  const written = lines().filter((l) => typeof l.path === 'string' && l.path.startsWith('/api/v1/orders/')).length;
  t.ok(dropped >= 1, `the lines dropped are counted (${dropped})`);
  t.ok(written + dropped >= 21, `no line of the full time is lost uncounted (${written} written late, ${dropped} dropped)`);
  t.equal(gw.stderr().match(WORKS_AGAIN)?.length, 1, `said once on stderr too:\n${gw.stderr()}`);

  await stopsOnSigterm(t, gw);
  t.equal(gw.stderr().match(FAILED)?.length, 1, 'no second failure');
});

t.test('the counter: a destination that fails drops its lines and counts each one; the exit flush returns', async (t) => {
  const full = openSync('/dev/full', 'w');
  t.teardown(() => closeSync(full));
  const destination = openLogDestination(full, { minChars: 8192 });
  t.teardown(() => destination.close());
  const flushed = () => new Promise<void>((resolve) => destination.flush(() => resolve()));
  const before = droppedLogLines();

  destination.write('{"msg":"one"}\n');
  destination.write('{"msg":"two"}\n');
  destination.write('{"msg":"a"}\n{"msg":"batch"}\n{"msg":"of three"}\n');
  await within(flushed(), 'flush');
  t.equal(droppedLogLines() - before, 5, 'each line of each write, batches included');

  destination.write('{"msg":"later"}\n');
  await within(flushed(), 'flush');
  t.equal(droppedLogLines() - before, 6, 'tried again at the next flush, and counted again');

  destination.write('{"msg":"at exit"}\n');
  destination.flushSync();
  t.equal(droppedLogLines() - before, 7, 'the synchronous flush of the exit path tries once and returns');
});

t.test('a destination that keeps failing and recovering is told on stderr once a minute, and every drop is counted', async (t) => {
  // Three rounds of 5 MiB of lines handed over in one turn, to /dev/null: beyond 4 MiB waiting
  // behind the write under way, lines are dropped; then the write ends and it works again. In a
  // child process, whose stderr is the test's to read.
  const log = new URL('../../src/log.ts', import.meta.url).href;
  const dir = t.testdir({
    'flap.mts': `import { openSync } from 'node:fs';
import { droppedLogLines, openLogDestination } from ${JSON.stringify(log)};
const destination = openLogDestination(openSync('/dev/null', 'a'), { minChars: 0 });
const line = 'x'.repeat(1023) + '\\n';
for (let round = 0; round < 3; round++) {
  for (let i = 0; i < 5 * 1024; i++) destination.write(line);
  await new Promise((resolve) => destination.flush(() => resolve(undefined)));
}
destination.close();
process.stdout.write(String(droppedLogLines()));
`,
  });
  const root = path.dirname(path.dirname(BIN));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(dir, 'flap.mts')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const code = await within(new Promise<number | null>((resolve) => child.once('exit', resolve)), 'the flapping destination');
  t.equal(code, 0, stderr);
  // Each round: 1 line in the write under way, 4096 waiting, the rest dropped.
  t.equal(Number(stdout), 3 * (5 * 1024 - 1 - 4096), 'every line dropped is counted, told or not');
  t.equal(stderr.match(FAILED)?.length, 1, `the first failure is told:\n${stderr}`);
  t.match(stderr, /failed \(it does not keep up: 4 MiB of lines are waiting\)/);
  t.equal(stderr.match(WORKS_AGAIN)?.length, 1, 'and its end, with its count; the next two, within the minute, are not');
  t.match(stderr, /works again; 1023 log lines were dropped while it failed/);
});

t.test('the counter: a destination that works writes every line, in order, and drops none', async (t) => {
  const file = path.join(t.testdir(), 'log');
  const fd = openSync(file, 'a');
  t.teardown(() => closeSync(fd));
  const destination = openLogDestination(fd, { minChars: 64 });
  t.teardown(() => destination.close());
  const before = droppedLogLines();
  const expected: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const line = `{"msg":"line ${i}"}\n`;
    expected.push(line);
    destination.write(line);
  }
  await within(new Promise<void>((resolve) => destination.flush(() => resolve())), 'flush');
  t.equal(readFileSync(file, 'utf8'), expected.join(''));
  t.equal(droppedLogLines() - before, 0);
});
