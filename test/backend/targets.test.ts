// Choosing a target of an endpoint group (src/backend/targets.ts): nginx's smooth weighted
// round-robin, failover in list order and back, and WSO2's suspension timeline. Time is an
// argument of every call, so the timeline is exact.
import t from 'tap';
import { TargetGroup } from '../../src/backend/targets.js';

const S = 1000;
const policy = { initialMs: 30 * S, factor: 2, maxMs: 300 * S };
const picks = (group: TargetGroup<string>, n: number, nowMs = 0) => Array.from({ length: n }, () => group.pick(nowMs));

t.test('round-robin by weight is smooth: 5, 1, 1 gives a a b a c a a', async (t) => {
  const group = new TargetGroup([{ target: 'a', weight: 5 }, { target: 'b', weight: 1 }, { target: 'c', weight: 1 }], 'round-robin', policy);
  t.same(picks(group, 7), ['a', 'a', 'b', 'a', 'c', 'a', 'a']);
  const counts = new Map<string, number>();
  for (const picked of picks(group, 700)) counts.set(picked!, (counts.get(picked!) ?? 0) + 1);
  t.same(Object.fromEntries(counts), { a: 500, b: 100, c: 100 }, 'exactly by weight over whole cycles');
});

t.test('round-robin without weights takes turns', async (t) => {
  const group = new TargetGroup([{ target: 'a' }, { target: 'b' }], 'round-robin', policy);
  t.same(picks(group, 4), ['a', 'b', 'a', 'b']);
});

t.test('a suspended target gets no request until its suspension is over', async (t) => {
  const group = new TargetGroup([{ target: 'a' }, { target: 'b' }], 'round-robin', policy);
  group.failed('a', 0, 'connection refused');
  t.same(picks(group, 3, 1 * S), ['b', 'b', 'b']);
  t.same(picks(group, 3, 29.999 * S), ['b', 'b', 'b'], 'still suspended just before 30 s');
  t.ok(picks(group, 2, 30 * S).includes('a'), 'tried again at 30 s');
});

t.test("WSO2's timeline: initial, × factor on each consecutive failure, at most max; a success resets it", async (t) => {
  const group = new TargetGroup([{ target: 'a' }, { target: 'b' }], 'failover', policy);
  let now = 0;
  const suspensions: number[] = [];
  for (let i = 0; i < 6; i++) {
    group.failed('a', now, 'reset');
    const state = group.states(now)[0]!.state;
    if (state.state !== 'suspended') return void t.fail('suspended');
    suspensions.push((state.untilMs - now) / S);
    now = state.untilMs; // tried again when the suspension ends, and fails again
  }
  t.same(suspensions, [30, 60, 120, 240, 300, 300]);
  group.succeeded('a');
  t.same(group.states(now)[0]!.state, { state: 'available', failures: 0 }, 'a response of any status ends it');
  group.failed('a', now, 'reset');
  const after = group.states(now)[0]!.state;
  t.equal(after.state === 'suspended' && (after.untilMs - now) / S, 30, 'and the next failure starts from initial again');
});

t.test('failover sends everything to the first available target, and returns to it', async (t) => {
  const group = new TargetGroup([{ target: 'primary' }, { target: 'secondary' }, { target: 'third' }], 'failover', policy);
  t.same(picks(group, 3), ['primary', 'primary', 'primary']);
  group.failed('primary', 0, 'connect timeout');
  t.same(picks(group, 2, 1 * S), ['secondary', 'secondary']);
  group.failed('secondary', 1 * S, 'TLS refused');
  t.equal(group.pick(2 * S), 'third');
  t.equal(group.pick(30 * S), 'primary', 'back to the first as soon as it is available');
});

t.test('none available: undefined, and every state says why and until when', async (t) => {
  const group = new TargetGroup([{ target: 'a' }, { target: 'b', weight: 3 }], 'round-robin', policy);
  group.failed('a', 0, 'connection refused');
  group.failed('b', 5 * S, 'socket timeout');
  t.equal(group.pick(6 * S), undefined);
  t.same(group.states(6 * S), [
    { target: 'a', weight: 1, state: { state: 'suspended', untilMs: 30 * S, reason: 'connection refused', failures: 1 } },
    { target: 'b', weight: 3, state: { state: 'suspended', untilMs: 35 * S, reason: 'socket timeout', failures: 1 } },
  ]);
});

t.test('a retry goes to another target, never the one that failed', async (t) => {
  // No suspension at all (initial 0): the exclusion alone keeps the retry off the failed target.
  const group = new TargetGroup([{ target: 'a' }, { target: 'b' }], 'round-robin', { initialMs: 0, factor: 1, maxMs: 0 });
  group.failed('a', 0, 'reset');
  for (let i = 0; i < 4; i++) t.equal(group.pick(0, 'a'), 'b');
  t.equal(new TargetGroup([{ target: 'only' }], 'failover', policy).pick(0, 'only'), undefined, 'a group of one has nowhere else to go');
});

t.test('a passing health check makes a suspended target available at once', async (t) => {
  const group = new TargetGroup([{ target: 'a' }, { target: 'b' }], 'failover', policy);
  group.failed('a', 0, 'health check: 503');
  t.equal(group.pick(1 * S), 'b');
  group.healthy('a');
  t.equal(group.pick(1 * S), 'a');
});

t.test('misuse is refused', async (t) => {
  t.throws(() => new TargetGroup([], 'failover', policy), /at least one target/);
  t.throws(() => new TargetGroup([{ target: 'a' }], 'failover', policy).failed('z', 0, 'x'), /not a target/);
});
