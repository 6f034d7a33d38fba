// Which target of an endpoint group serves a request (SPEC §8): round-robin by weight, or
// failover (the first available in list order), never a suspended target. Suspension follows
// WSO2 API Manager's endpoint rules: a transport failure (refused, reset before a response, TLS
// refused, connect or socket timeout) suspends the target for `initial`, each consecutive failure
// multiplies that by `factor` up to `max`, and a success resets it; an HTTP response of any
// status, 5xx included, is not a failure. Once its suspension is over, a target is tried again; an
// active health check that fails suspends it, one that passes makes it available at once.
//
// Round-robin is nginx's smooth weighted round-robin: weights 5, 1, 1 give a a b a c a a, not
// a a a a a b c, so that a heavy target never takes a burst. pick() allocates nothing: it runs
// once per request.
//
// Pure state and time as an argument: the proxy owns the clock and the group lives as long as the
// snapshot's endpoint runtime (a reload that keeps a target's settings keeps its state).

import type { Balance, SuspendPolicy } from '../config/types.js';

export type { Balance, SuspendPolicy };

export type TargetState =
  | { readonly state: 'available'; readonly failures: number }
  | { readonly state: 'suspended'; readonly untilMs: number; readonly reason: string; readonly failures: number };

export class TargetGroup<T> {
  readonly balance: Balance;
  readonly #targets: readonly T[];
  readonly #weights: Float64Array;
  /** Smooth round-robin's running weights. */
  readonly #current: Float64Array;
  readonly #suspendedUntil: Float64Array;
  readonly #failures: Uint32Array;
  /** Every transport failure so far, never reset (the metrics' counter). */
  readonly #failuresTotal: Float64Array;
  readonly #reasons: (string | undefined)[];
  readonly #policy: SuspendPolicy;

  constructor(targets: readonly { readonly target: T; readonly weight?: number }[], balance: Balance, policy: SuspendPolicy) {
    if (targets.length === 0) throw new Error('a target group needs at least one target');
    this.balance = balance;
    this.#targets = targets.map((t) => t.target);
    this.#weights = Float64Array.from(targets, (t) => t.weight ?? 1);
    this.#current = new Float64Array(targets.length);
    this.#suspendedUntil = new Float64Array(targets.length);
    this.#failures = new Uint32Array(targets.length);
    this.#failuresTotal = new Float64Array(targets.length);
    this.#reasons = targets.map(() => undefined);
    this.#policy = policy;
  }

  get size(): number {
    return this.#targets.length;
  }

  /** The target to send a request to at `nowMs`, other than `exclude` (a retry's); undefined when none is available. */
  pick(nowMs: number, exclude?: T): T | undefined {
    const targets = this.#targets;
    if (this.balance === 'failover') {
      for (let i = 0; i < targets.length; i++) if (this.#available(i, nowMs) && targets[i] !== exclude) return targets[i];
      return undefined;
    }
    let best = -1;
    let total = 0;
    for (let i = 0; i < targets.length; i++) {
      if (!this.#available(i, nowMs) || targets[i] === exclude) continue;
      this.#current[i]! += this.#weights[i]!;
      total += this.#weights[i]!;
      if (best === -1 || this.#current[i]! > this.#current[best]!) best = i;
    }
    if (best === -1) return undefined;
    this.#current[best]! -= total;
    return targets[best];
  }

  /** A transport failure of `target` at `nowMs`: suspended for initial × factor^(consecutive failures − 1), at most max. */
  failed(target: T, nowMs: number, reason: string): void {
    const i = this.#indexOf(target);
    const failures = ++this.#failures[i]!;
    this.#failuresTotal[i]!++;
    const { initialMs, factor, maxMs } = this.#policy;
    const duration = Math.min(maxMs, initialMs * factor ** (failures - 1));
    this.#suspendedUntil[i] = nowMs + duration;
    this.#reasons[i] = reason;
  }

  /** A response came back (of any status): the target's failures are forgotten. */
  succeeded(target: T): void {
    const i = this.#indexOf(target);
    if (this.#failures[i] === 0 && this.#suspendedUntil[i] === 0) return;
    this.#failures[i] = 0;
    this.#suspendedUntil[i] = 0;
    this.#reasons[i] = undefined;
  }

  /** An active health check passed: available at once, whatever its suspension. */
  healthy(target: T): void {
    this.succeeded(target);
  }

  /**
   * Takes over the failures and suspensions of `from`'s targets that `same` pairs with one of
   * this group's (a reload that kept a target's connections keeps what is known of it).
   */
  carryOver<U>(from: TargetGroup<U>, same: (mine: T, theirs: U) => boolean): void {
    this.#targets.forEach((mine, i) => {
      const j = from.#targets.findIndex((theirs) => same(mine, theirs));
      if (j === -1) return;
      this.#failures[i] = from.#failures[j]!;
      this.#suspendedUntil[i] = from.#suspendedUntil[j]!;
      this.#reasons[i] = from.#reasons[j];
      this.#failuresTotal[i] = from.#failuresTotal[j]!;
    });
  }

  /** Whether `target` takes requests at `nowMs`. */
  isAvailable(target: T, nowMs: number): boolean {
    return this.#available(this.#indexOf(target), nowMs);
  }

  /** The transport failures of `target` since the group was made (carried over by reloads). */
  failuresOf(target: T): number {
    return this.#failuresTotal[this.#indexOf(target)]!;
  }

  /** Each target's state at `nowMs`, in list order: for /status, metrics and the NO_BACKEND_AVAILABLE line. */
  states(nowMs: number): { readonly target: T; readonly weight: number; readonly state: TargetState }[] {
    return this.#targets.map((target, i) => ({
      target,
      weight: this.#weights[i]!,
      state: this.#available(i, nowMs)
        ? { state: 'available' as const, failures: this.#failures[i]! }
        : { state: 'suspended' as const, untilMs: this.#suspendedUntil[i]!, reason: this.#reasons[i]!, failures: this.#failures[i]! },
    }));
  }

  #available(i: number, nowMs: number): boolean {
    return this.#suspendedUntil[i]! <= nowMs;
  }

  #indexOf(target: T): number {
    const i = this.#targets.indexOf(target);
    if (i === -1) throw new Error('not a target of this group');
    return i;
  }
}
