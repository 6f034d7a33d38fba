// The Redis store against a real redis-server: counters shared by replicas, named after the rule
// and the subject alone, one round trip for two rules; and a Redis that stops, freezes, refuses
// the password or is not there yet: answers within the bounded wait, the state told once per
// change, counting again when Redis is back, never a password in what it says.
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { createLimitStore } from '../../src/limits/store.js';
import type { LimitOutcome, LimitRule, LimitStore, LimitStoreOptions, LimitStoreState } from '../../src/limits/store.js';
import { NO_REDIS, redisCommand, startRedis } from '../helpers/redis.js';
import { until } from '../helpers/wait.js';

const orders: LimitRule = { id: 'api:Orders:1.0', requests: 3, perMs: 60_000 };
const gold: LimitRule = { id: 'plan:Gold', requests: 5, perMs: 60_000 };
// A behaviour bound, not a performance figure: with a 100 ms wait, an answer within 2 s.
const ANSWER_BOUND_MS = 2_000;

/** A store closed when `t` ends, and every state it was told of. */
function openStore(t: Test, url: string, options: Partial<LimitStoreOptions> = {}): { store: LimitStore; told: LimitStoreState[] } {
  const told: LimitStoreState[] = [];
  const store = createLimitStore({ url, role: 'single', timeoutMs: 100, onStateChange: (state) => told.push(state), ...options });
  t.teardown(() => store.close());
  return { store, told };
}

async function reachable(store: LimitStore): Promise<void> {
  await until(() => store.state().reachable, 'the store to reach Redis');
}

/** consume(), and how long it took. */
async function timed(store: LimitStore, rules: readonly LimitRule[], subject: string): Promise<{ outcome: LimitOutcome; ms: number }> {
  const started = performance.now();
  const outcome = await store.consume(rules, subject);
  return { outcome, ms: performance.now() - started };
}

t.test('Redis', { skip: NO_REDIS }, async (t) => {
  t.test('two stores (two replicas) on one Redis allow the limit once, not twice', async (t) => {
    const redis = await startRedis(t);
    const a = openStore(t, redis.url).store;
    const b = openStore(t, redis.url).store;
    await Promise.all([reachable(a), reachable(b)]);
    t.equal(a.kind, 'redis');
    // Both at once, interleaved: 10 requests, 3 allowed in all.
    const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).consume([orders], 'alice')));
    const allowed = outcomes.filter((o) => o.kind === 'allowed');
    t.equal(allowed.length, 3, '3 allowed across both replicas');
    t.same(allowed.map((o) => o.remaining).sort(), [0, 1, 2], 'each allowed request saw the shared count');
    t.equal(outcomes.filter((o) => o.kind === 'limited').length, 7);
    t.match(await a.consume([orders], 'bob'), { kind: 'allowed', remaining: 2 }, 'another subject: its own count');
  });

  t.test("the counters' keys depend only on the rule and the subject; their expiry is the window", async (t) => {
    const redis = await startRedis(t);
    const { store } = openStore(t, redis.url);
    await reachable(store);
    await store.consume([orders, gold], '::ffff:10.0.0.1');
    const keys = (await redisKeys(redis.port)).sort();
    t.same(keys, ['gatehouse:limit:3/60000:api%3AOrders%3A1.0:::ffff:10.0.0.1', 'gatehouse:limit:5/60000:plan%3AGold:::ffff:10.0.0.1']);
    const ttl = Number((await redisCommand(redis.port, `PTTL ${keys[0]!}`)).slice(1));
    t.ok(ttl > 55_000 && ttl <= 60_000, `PTTL ${ttl}`);
    const outcome = await store.consume([orders], '::ffff:10.0.0.1');
    t.ok(outcome.kind === 'allowed' && outcome.resetMs <= 60_000 && outcome.resetMs > 55_000, 'resetMs is what remains of the key');
  });

  t.test('two rules cost one write to Redis: their commands leave together', async (t) => {
    const redis = await startRedis(t);
    const relay = await countingRelay(t, redis.port);
    const { store } = openStore(t, `redis://127.0.0.1:${relay.port}`);
    await reachable(store);
    await store.consume([orders, gold], 'warm-up');
    relay.writes = 0;
    t.match(await store.consume([orders, gold], 'alice'), { kind: 'allowed', limit: 3, remaining: 2 });
    t.equal(relay.writes, 1, 'one write from the client for both rules');
  });

  t.test('Redis stops: answers "unavailable" at once, the state told once; Redis back: counting again, told once', async (t) => {
    const redis = await startRedis(t);
    const { store, told } = openStore(t, redis.url);
    await reachable(store);
    t.match(told, [{ kind: 'redis', url: redis.url, reachable: true }], 'told of the first connection');
    t.match(await store.consume([orders], 'alice'), { kind: 'allowed', remaining: 2 });

    await redis.stop();
    for (let i = 0; i < 5; i++) {
      const { outcome, ms } = await timed(store, [orders, gold], 'alice');
      t.equal(outcome.kind, 'unavailable', `consume ${i + 1} while Redis is down`);
      t.ok(ms < ANSWER_BOUND_MS, `answered in ${ms.toFixed(1)} ms`);
    }
    // A few reconnection attempts fail meanwhile: still one change.
    await new Promise((resolve) => setTimeout(resolve, 500));
    t.equal(told.length, 2, 'told once that Redis went away');
    t.match(told[1], { reachable: false, lastError: { message: String, at: Date } });
    t.match(store.state(), { reachable: false });
    const down = await store.consume([orders], 'alice');
    t.match(down, { kind: 'unavailable', reason: new RegExp(`^redis://127\\.0\\.0\\.1:${redis.port} is unreachable: `) });

    await redis.start();
    await reachable(store);
    t.equal(told.length, 3, 'told once that it is back');
    t.match(told[2], { reachable: true });
    // The restarted Redis kept nothing (--save ''): the count starts again.
    t.match(await store.consume([orders], 'alice'), { kind: 'allowed', remaining: 2 }, 'the same store object counts again');
  });

  t.test('Redis freezes (connections open, no answer): answers within the bounded wait, then at once; thawed: counting again', async (t) => {
    const redis = await startRedis(t);
    const { store, told } = openStore(t, redis.url);
    await reachable(store);
    redis.freeze();
    const first = await timed(store, [orders, gold], 'alice');
    t.match(first.outcome, { kind: 'unavailable', reason: `no answer from ${redis.url} within 100 ms` });
    t.ok(first.ms >= 90 && first.ms < ANSWER_BOUND_MS, `the bounded wait: ${first.ms.toFixed(1)} ms`);
    // The health PING goes unanswered: Redis is then unreachable, and requests get their answer without waiting.
    await until(() => !store.state().reachable, 'the PING to find Redis silent', 5_000);
    t.match(told.at(-1), { reachable: false });
    const later = await timed(store, [orders], 'alice');
    t.match(later.outcome, { kind: 'unavailable', reason: /is unreachable/ });
    t.ok(later.ms < 50, `answered without waiting: ${later.ms.toFixed(1)} ms`);
    redis.thaw();
    await reachable(store);
    t.same(
      told.map((s) => s.reachable),
      [true, false, true],
    );
    t.equal((await store.consume([orders], 'bob')).kind, 'allowed');
  });

  t.test('Redis not there when the store is made: "unavailable", told once; it starts: counting', async (t) => {
    const redis = await startRedis(t);
    await redis.stop();
    const { store, told } = openStore(t, redis.url);
    t.match(await store.consume([orders], 'alice'), { kind: 'unavailable', reason: `${redis.url}: connecting` });
    await until(() => told.length > 0, 'the first failure to be told');
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.match(told, [{ reachable: false, lastError: { message: /ECONNREFUSED/ } }], 'told once, not once per attempt');
    await redis.start();
    await reachable(store);
    t.equal(told.length, 2);
    t.equal((await store.consume([orders], 'alice')).kind, 'allowed');
  });

  t.test('a password: used, and never in the URL, the state or a reason', async (t) => {
    const redis = await startRedis(t, ['--requirepass', 'Sesame-0p3n']);
    const { store, told } = openStore(t, `redis://:Sesame-0p3n@127.0.0.1:${redis.port}/0`);
    await reachable(store);
    t.equal(store.state().url, `redis://127.0.0.1:${redis.port}/0`);
    t.equal((await store.consume([orders], 'alice')).kind, 'allowed');

    const wrong = openStore(t, `redis://admin:Wr0ng-pass@127.0.0.1:${redis.port}`);
    await until(() => wrong.told.length > 0, 'the refused password to be told');
    const outcome = await wrong.store.consume([orders], 'alice');
    t.equal(outcome.kind, 'unavailable');
    t.match(wrong.store.state(), { url: `redis://admin@127.0.0.1:${redis.port}`, reachable: false, lastError: { message: /WRONGPASS|invalid/ } });
    const said = JSON.stringify([told, store.state(), wrong.told, wrong.store.state(), outcome]);
    t.notMatch(said, 'Sesame');
    t.notMatch(said, 'Wr0ng');
  });
});

/** The keys of the rate-limit counters in the Redis on `port`. */
async function redisKeys(port: number): Promise<string[]> {
  // KEYS answers an array: *N, then $len and the key for each.
  const reply = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('KEYS gatehouse:limit:*\r\n'));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const lines = text.split('\r\n');
      const count = Number(lines[0]!.slice(1));
      if (lines.length > 2 * count + 1) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', reject);
  });
  return reply
    .split('\r\n')
    .slice(1)
    .filter((line, i) => i % 2 === 1 && line !== '');
}

/** A TCP relay in front of Redis that counts the client's writes (each arrives as one chunk on loopback). */
async function countingRelay(t: Test, port: number): Promise<{ port: number; writes: number }> {
  const relay = { port: 0, writes: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (chunk) => {
      relay.writes++;
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.close();
    for (const socket of sockets) socket.destroy();
  });
  relay.port = (server.address() as net.AddressInfo).port;
  return relay;
}
