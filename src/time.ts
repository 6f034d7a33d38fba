// Units of time in milliseconds, written once: durations in the configuration, certificate
// expiry in days, and the daily expiry check all count with these.

export const SECOND_MS = 1_000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** Whole days from `nowMs` until `thenMs`, rounded down: negative once `thenMs` is past. */
export function daysLeft(thenMs: number, nowMs: number): number {
  return Math.floor((thenMs - nowMs) / DAY_MS);
}

/** Whole days since `thenMs`, rounded down. */
export function daysSince(thenMs: number, nowMs: number): number {
  return Math.floor((nowMs - thenMs) / DAY_MS);
}

/** The date part of an ISO timestamp, for messages: 2026-12-01. */
export function dateOf(iso: string): string {
  return iso.slice(0, 10);
}
