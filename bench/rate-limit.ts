// The rate-limit store alone (src/limits/): CPU time per consume of the memory store with two
// rules (an API's and a plan's, as a keyed request has); then the throughput of memory, of Redis,
// and of the cluster's memory (one node:cluster worker counting through the primary) with many
// consumes in flight, as a busy gateway has them, the rounds interleaved. Redis is a real
// redis-server on loopback, started here (test/helpers/redis.ts) unless --redis names one.
//
//   node --import tsx bench/rate-limit.ts [--consumes 200000] [--rounds 5] [--seconds 3] [--in-flight 64] [--redis redis://host:port]
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { parseArgs } from 'node:util';
import { createLimitStore, isLimitStoreMessage } from '../src/limits/store.js';
import type { LimitRule, LimitStore } from '../src/limits/store.js';
import { REDIS_SERVER, RedisServer } from '../test/helpers/redis.js';
import { median } from './common.js';

const { values } = parseArgs({
  options: {
    consumes: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '3' },
    'in-flight': { type: 'string', default: '64' },
    redis: { type: 'string' },
  },
});
const consumes = Number(values.consumes);
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const inFlight = Number(values['in-flight']);

// Limits nobody reaches: every consume is counted and allowed, the common case.
const rules: readonly LimitRule[] = [
  { id: 'api:Orders:1.0', requests: 1_000_000_000, perMs: 60_000 },
  { id: 'plan:Gold', requests: 1_000_000_000, perMs: 60_000 },
];
// 1,000 keys: counters for many subjects, not one hot entry.
const subjects = Array.from({ length: 1_000 }, (_, i) => `app-${i}`);

interface Run {
  readonly perSecond: number;
  /** CPU µs per consume of the process that consumes. */
  readonly cpuUs: number;
  readonly done: number;
  readonly unavailable: number;
}

/** CPU µs per consume, one at a time (each awaited), median of the rounds after one of warm-up. */
async function cpuPerConsume(store: LimitStore, count: number): Promise<number> {
  const perConsume: number[] = [];
  for (let round = 0; round <= rounds; round++) {
    const started = process.cpuUsage();
    for (let i = 0; i < count; i++) {
      const outcome = await store.consume(rules, subjects[i % subjects.length]!);
      if (outcome.kind !== 'allowed') throw new Error(`not allowed: ${JSON.stringify(outcome)}`);
    }
    const used = process.cpuUsage(started);
    if (round > 0) perConsume.push((used.user + used.system) / count);
  }
  return median(perConsume);
}

/** `inFlight` consumes always in flight for `seconds`. */
async function throughput(store: LimitStore): Promise<Run> {
  let done = 0;
  let unavailable = 0;
  const started = performance.now();
  const deadline = started + seconds * 1_000;
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: inFlight }, async (_, lane) => {
      for (let i = lane; performance.now() < deadline; i += inFlight) {
        if ((await store.consume(rules, subjects[i % subjects.length]!)).kind === 'unavailable') unavailable++;
        done++;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return { perSecond: done / ((performance.now() - started) / 1_000), cpuUs: (used.user + used.system) / done, done, unavailable };
}

if (cluster.isWorker) {
  // The cluster's worker: a run for each 'run' from the primary, until 'stop'.
  const store = createLimitStore({ url: 'memory', role: 'worker' });
  store.prepare(rules);
  process.on('message', (message: unknown) => {
    if (message === 'run') void throughput(store).then((run) => process.send!({ run }));
    if (message === 'stop') process.exit(0);
  });
  process.send!('ready');
} else {
  await main();
}

/** The next message of `worker` that is Gatehouse's, not the counters' (they share the channel). */
function nextMessage(worker: Worker): Promise<unknown> {
  return new Promise((resolve) => {
    const listener = (message: unknown): void => {
      if (isLimitStoreMessage(message)) return;
      worker.off('message', listener);
      resolve(message);
    };
    worker.on('message', listener);
  });
}

/** A run of the worker; the primary's CPU µs per consume meanwhile is `primaryCpuUs`. */
async function clusterRun(worker: Worker): Promise<Run & { primaryCpuUs: number }> {
  const cpu = process.cpuUsage();
  const answer = nextMessage(worker);
  worker.send('run');
  const { run } = (await answer) as { run: Run };
  const used = process.cpuUsage(cpu);
  return { ...run, primaryCpuUs: (used.user + used.system) / run.done };
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, 2 rules per consume, ${subjects.length} subjects`);
  const memory = createLimitStore({ url: 'memory', role: 'single' });
  console.log(`memory: ${(await cpuPerConsume(memory, consumes)).toFixed(2)} µs CPU per consume (median of ${rounds} rounds of ${consumes}, one at a time)`);

  let server: RedisServer | undefined;
  let redisUrl = values.redis;
  if (!redisUrl && REDIS_SERVER) {
    server = await RedisServer.create();
    redisUrl = server.url;
  }
  const redis = redisUrl ? createLimitStore({ url: redisUrl, role: 'single' }) : undefined;
  if (redis) {
    const deadline = Date.now() + 5_000;
    while (!redis.state().reachable && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    console.log(`redis: ${(await cpuPerConsume(redis, Math.min(consumes, 20_000))).toFixed(2)} µs CPU per consume in this process (one at a time: a round trip each)`);
  } else {
    console.log('redis: skipped (no redis-server installed, and no --redis)');
  }

  // The primary hosts the counts before the worker is forked.
  const primary = createLimitStore({ url: 'memory', role: 'primary' });
  cluster.setupPrimary({ serialization: 'advanced' });
  const worker = cluster.fork();
  await nextMessage(worker);

  const runs: Record<'memory' | 'redis' | 'cluster', (Run & { primaryCpuUs?: number })[]> = { memory: [], redis: [], cluster: [] };
  const targets = [
    ['memory', () => throughput(memory)],
    ...(redis ? ([['redis', () => throughput(redis)]] as const) : []),
    ['cluster', () => clusterRun(worker)],
  ] as const;
  for (let round = 0; round < rounds; round++) {
    // Interleaved, each round starting with another: what else the machine does falls on all.
    for (let i = 0; i < targets.length; i++) {
      const [name, run] = targets[(round + i) % targets.length]!;
      const result = await run();
      if (result.unavailable) console.log(`  ${name}: ${result.unavailable} consumes unavailable in round ${round + 1}`);
      runs[name].push(result);
    }
  }

  console.log(`\nthroughput, ${inFlight} consumes in flight, ${rounds} rounds of ${seconds} s (medians):`);
  console.log('store      consumes/s   CPU µs per consume   vs memory');
  const memoryRate = median(runs.memory.map((r) => r.perSecond));
  for (const [name, list] of Object.entries(runs)) {
    if (list.length === 0) continue;
    const rate = median(list.map((r) => r.perSecond));
    const primaryCpu = list[0]!.primaryCpuUs === undefined ? '' : ` + ${median(list.map((r) => r.primaryCpuUs!)).toFixed(1)} in the primary`;
    console.log(`${name.padEnd(8)} ${rate.toFixed(0).padStart(12)}   ${median(list.map((r) => r.cpuUs)).toFixed(1).padStart(18)}${primaryCpu}   ${(rate / memoryRate).toFixed(2)}x`);
  }

  worker.send('stop');
  await new Promise((resolve) => worker.once('exit', resolve));
  await Promise.all([memory.close(), redis?.close(), primary.close()]);
  await server?.kill();
}
