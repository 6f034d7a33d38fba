// The memory store of one process: what it counts and refuses, the figures of the headers, windows
// that reset, two rules at once, and the rules it refuses to count.
import t from 'tap';
import { createLimitStore } from '../../src/limits/store.js';
import type { LimitOutcome, LimitRule } from '../../src/limits/store.js';

const rule = (id: string, requests: number, perMs: number): LimitRule => ({ id, requests, perMs });

async function consumeTimes(rules: readonly LimitRule[], subject: string, times: number, store = createLimitStore({ url: 'memory', role: 'single' })): Promise<LimitOutcome[]> {
  const outcomes: LimitOutcome[] = [];
  for (let i = 0; i < times; i++) outcomes.push(await store.consume(rules, subject));
  return outcomes;
}

t.test('counts a subject, refuses the (requests+1)th, and says when to come back', async (t) => {
  const orders = rule('api:Orders:1.0', 3, 60_000);
  const outcomes = await consumeTimes([orders], 'alice', 5);
  t.same(
    outcomes.map((o) => o.kind),
    ['allowed', 'allowed', 'allowed', 'limited', 'limited'],
  );
  t.same(
    outcomes.slice(0, 3).map((o) => o.kind === 'allowed' && [o.limit, o.remaining]),
    [
      [3, 2],
      [3, 1],
      [3, 0],
    ],
    'limit and remaining as the headers show them',
  );
  for (const o of outcomes) {
    if (o.kind === 'unavailable') throw new Error(o.reason);
    t.ok(o.resetMs > 59_000 && o.resetMs <= 60_000, `resetMs ${o.resetMs}: the window started with the first request`);
  }
  const refused = outcomes[3]!;
  if (refused.kind !== 'limited') throw new Error('not limited');
  t.same(refused.rule, orders, 'the rule that refused');
  t.equal(refused.limit, 3);
  t.equal(refused.remaining, 0);
  t.equal(refused.retryAfterMs, refused.resetMs, 'one fixed window: retry when it resets');
});

t.test('a window resets: once it has passed the subject is allowed again, with a full count', async (t) => {
  const store = createLimitStore({ url: 'memory', role: 'single' });
  const perSecond = rule('api:Orders:1.0', 2, 1_000);
  const [, , third] = await consumeTimes([perSecond], 'alice', 3, store);
  if (third?.kind !== 'limited') throw new Error(`third: ${JSON.stringify(third)}`);
  await new Promise((resolve) => setTimeout(resolve, third.retryAfterMs + 50));
  t.match(await store.consume([perSecond], 'alice'), { kind: 'allowed', limit: 2, remaining: 1 }, 'counted from 1 in the new window');
});

t.test('subjects are counted apart', async (t) => {
  const store = createLimitStore({ url: 'memory', role: 'single' });
  const one = rule('api:Orders:1.0', 1, 60_000);
  t.equal((await store.consume([one], 'alice')).kind, 'allowed');
  t.equal((await store.consume([one], 'alice')).kind, 'limited');
  t.equal((await store.consume([one], 'bob')).kind, 'allowed', 'bob has his own count');
  t.equal((await store.consume([one], '::1')).kind, 'allowed', 'a client address with colons is a subject like any other');
});

t.test('two rules: both count every request, the tighter refuses, the headers show the tighter', async (t) => {
  const store = createLimitStore({ url: 'memory', role: 'single' });
  const api = rule('api:Orders:1.0', 5, 60_000);
  const plan = rule('plan:Gold', 3, 60_000);
  const outcomes = await consumeTimes([api, plan], 'alice', 4, store);
  t.same(
    outcomes.map((o) => (o.kind === 'allowed' ? [o.kind, o.limit, o.remaining] : [o.kind])),
    [['allowed', 3, 2], ['allowed', 3, 1], ['allowed', 3, 0], ['limited']],
  );
  t.match(outcomes[3], { kind: 'limited', rule: plan, limit: 3 });
  // The API's rule counted the refused request too (WSO2's rule): 4 of 5 used.
  t.match(await store.consume([api], 'alice'), { kind: 'allowed', limit: 5, remaining: 0 });
});

t.test('ties on remaining: the headers show the rule whose window resets first', async (t) => {
  const store = createLimitStore({ url: 'memory', role: 'single' });
  const minute = rule('plan:Gold', 3, 60_000);
  const second = rule('api:Orders:1.0', 3, 1_000);
  const outcome = await store.consume([minute, second], 'alice');
  t.match(outcome, { kind: 'allowed', limit: 3, remaining: 2 });
  t.ok(outcome.kind === 'allowed' && outcome.resetMs <= 1_000, 'the one-second window');
});

t.test('several rules refuse: the one that refuses longest is the one told, so that Retry-After holds', async (t) => {
  const store = createLimitStore({ url: 'memory', role: 'single' });
  const minute = rule('plan:Gold', 1, 60_000);
  const second = rule('api:Orders:1.0', 1, 1_000);
  await store.consume([second, minute], 'alice');
  const outcome = await store.consume([second, minute], 'alice');
  t.match(outcome, { kind: 'limited', rule: minute });
  t.ok(outcome.kind === 'limited' && outcome.retryAfterMs > 59_000);
});

t.test('counters belong to the rule: a new id starts fresh, equal rules of another snapshot share', async (t) => {
  const store = createLimitStore({ url: 'memory', role: 'single' });
  await consumeTimes([rule('plan:Gold', 2, 60_000)], 'alice', 2, store);
  t.equal((await store.consume([rule('plan:Gold', 2, 60_000)], 'alice')).kind, 'limited', 'an equal rule object (a reload) counts on');
  t.equal((await store.consume([rule('plan:Silver', 2, 60_000)], 'alice')).kind, 'allowed', 'another id: fresh');
  t.match(await store.consume([rule('plan:Gold', 5, 60_000)], 'alice'), { kind: 'allowed', remaining: 4 }, 'the same id with other figures: fresh');
});

t.test('rules it cannot count are refused with the reason, at prepare() or at the first consume', async (t) => {
  const store = createLimitStore({ url: 'memory', role: 'single' });
  t.throws(() => store.prepare([rule('api:Orders:1.0', 10, 500)]), new RangeError('rate limit "api:Orders:1.0": the window must be a whole number of seconds ≥ 1 s (got 500 ms)'));
  t.throws(() => store.prepare([rule('plan:Gold', 10, 1_500)]), { message: /whole number of seconds/ });
  t.throws(() => store.prepare([rule('plan:Gold', 0, 1_000)]), new RangeError('rate limit "plan:Gold": requests must be a whole number ≥ 1 (got 0)'));
  await t.rejects(store.consume([rule('plan:Gold', 2.5, 1_000)], 'alice'), RangeError);
  await t.rejects(store.consume([], 'alice'), new RangeError('rate limits: a request is counted against one rule at least'));
  t.doesNotThrow(() => store.prepare([rule('plan:Gold', 1, 1_000)]));
});

t.test('state, and close', async (t) => {
  const store = createLimitStore({ url: 'memory', role: 'single' });
  t.equal(store.kind, 'memory');
  t.match(store.state(), { kind: 'memory', url: 'memory', reachable: true, since: Date });
  await store.close();
  t.same(await store.consume([rule('plan:Gold', 1, 1_000)], 'alice'), { kind: 'unavailable', reason: 'the rate-limit store is closed' });
});

t.test('options that cannot work are refused, never repeating a password', async (t) => {
  t.throws(() => createLimitStore({ url: 'memory', role: 'worker' }), { message: "rate limits: role 'worker' counts in a node:cluster worker; this process is none" });
  t.throws(() => createLimitStore({ url: 'memory', role: 'single', timeoutMs: 0 }), RangeError);
  for (const url of ['redis//:s3cret@localhost', 'http://:s3cret@localhost:6379', 'redis://:s3cret@localhost:6379/zero', 'Memory']) {
    const error = t.throws(() => createLimitStore({ url, role: 'single' })) as Error;
    t.match(error.message, /^rate limits: the store must be memory, redis:\/\/\[user:password@\]host:port\[\/db\] or rediss:\/\/… \(got /, url.replace('s3cret', '…'));
    t.notMatch(error.message, 's3cret');
  }
});

t.test('the primary of a cluster serves no requests', async (t) => {
  const store = createLimitStore({ url: 'memory', role: 'primary' });
  t.equal(store.kind, 'cluster');
  await t.rejects(store.consume([rule('plan:Gold', 1, 1_000)], 'alice'), { message: /the cluster primary serves no requests/ });
  t.throws(() => store.prepare([rule('plan:Gold', 1, 10)]), RangeError, 'but it checks the rules');
  t.match(store.state(), { kind: 'cluster', url: 'memory', reachable: true });
  await store.close();
});
