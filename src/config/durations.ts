// Durations as written in the configuration ("500ms", "10s", "1.5s", "1m30s", "2d12h", or an
// integer number of milliseconds) → milliseconds. Units exist only in the configuration text; the
// rest of the code works in milliseconds (names end in Ms).

import { DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS } from '../time.js';

const UNIT_MS = { ms: 1, s: SECOND_MS, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS } as const;
type Unit = keyof typeof UNIT_MS;
/** Largest first: the order a compound duration is written in. */
const UNITS: readonly Unit[] = ['d', 'h', 'm', 's', 'ms'];

const INTEGER = /^[0-9]+$/;
/** One unit, which may carry a fraction: "1.5s", "0.5d". */
const SINGLE = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$/;
/** Whole numbers of each unit, largest first, each at most once: "1m30s", "2d12h", "1s500ms". */
const COMPOUND = /^(?=[0-9])(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m(?!s))?(?:([0-9]+)s)?(?:([0-9]+)ms)?$/;

/** Milliseconds (rounded), or undefined when the value is not a duration. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  if (INTEGER.test(value)) return Number(value);
  const single = SINGLE.exec(value);
  if (single) return Math.round(Number(single[1]) * UNIT_MS[single[2] as Unit]);
  const compound = COMPOUND.exec(value);
  if (!compound) return undefined;
  let ms = 0;
  UNITS.forEach((unit, i) => {
    const amount = compound[i + 1];
    if (amount !== undefined) ms += Number(amount) * UNIT_MS[unit];
  });
  return ms;
}

/**
 * A number without a unit (`60`, or `"60"` as a variable expands to): milliseconds, and so the
 * likely slip of someone who meant seconds when it is small.
 */
export function isUnitless(value: unknown): boolean {
  return typeof value === 'number' || (typeof value === 'string' && INTEGER.test(value));
}

/**
 * For messages, in the form the configuration accepts (parseDuration(formatDuration(ms)) === ms):
 * 86400000 → "1d", 90000 → "1m30s", 1500 → "1.5s", 250 → "250ms".
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return `${ms}ms`;
  const whole = Math.round(ms);
  // Below a minute, seconds with a fraction read best ("1.5s"); above, whole units ("1m30s").
  if (whole < MINUTE_MS) return whole >= SECOND_MS ? `${+(whole / SECOND_MS).toFixed(3)}s` : `${whole}ms`;
  let rest = whole;
  let out = '';
  for (const unit of UNITS) {
    const amount = Math.floor(rest / UNIT_MS[unit]);
    rest -= amount * UNIT_MS[unit];
    if (amount > 0) out += `${amount}${unit}`;
  }
  return out;
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
