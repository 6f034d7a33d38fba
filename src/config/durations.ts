// Durations as written in the configuration ("500ms", "10s", "2m", "1h", "30d", or an integer
// number of milliseconds) → milliseconds. Units exist only in the configuration text; the rest of
// the code works in milliseconds (names end in Ms).

import { DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS } from '../time.js';

const UNIT_MS = { ms: 1, s: SECOND_MS, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS } as const;
const DURATION = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)?$/;

/** Milliseconds (rounded), or undefined when the value is not a duration. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = DURATION.exec(value);
  if (!match) return undefined;
  const [, amount, unit] = match;
  if (unit === undefined && amount!.includes('.')) return undefined;
  return Math.round(Number(amount) * UNIT_MS[(unit ?? 'ms') as keyof typeof UNIT_MS]);
}

/** For messages: 86400000 → "1d", 1500 → "1.5s". */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', UNIT_MS.d], ['h', UNIT_MS.h], ['m', UNIT_MS.m], ['s', UNIT_MS.s]] as const) {
    if (ms >= size && (ms % size === 0 || unit === 's')) return `${+(ms / size).toFixed(3)}${unit}`;
  }
  return `${ms}ms`;
}

const SIZE = /^([0-9]+)(B|k|K|KB|KiB|m|M|MB|MiB|g|G|GB|GiB)?$/;
const UNIT_BYTES: Record<string, number> = { '': 1, B: 1, k: 1024, K: 1024, KB: 1024, KiB: 1024, m: 1024 ** 2, M: 1024 ** 2, MB: 1024 ** 2, MiB: 1024 ** 2, g: 1024 ** 3, G: 1024 ** 3, GB: 1024 ** 3, GiB: 1024 ** 3 };

/** Sizes as written ("512k", "10m", "1GiB", or bytes) → bytes; undefined when not a size. Multiples of 1024, as nginx's. */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = SIZE.exec(value);
  return match ? Number(match[1]) * UNIT_BYTES[match[2] ?? '']! : undefined;
}
