// Small pieces of wording that messages share.
import { closest, distance } from 'fastest-levenshtein';

/** `1 day`, `3 days`; `pluralWord` for irregular nouns. */
export function plural(n: number, word: string, pluralWord = `${word}s`): string {
  return `${n} ${n === 1 ? word : pluralWord}`;
}

/** A value as a POSIX shell would need it on a command line that a message suggests to run. */
export function quoteArg(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The known word `value` is probably a misspelling of, if any. */
export function closestWord(value: string, known: readonly string[]): string | undefined {
  if (!value || known.length === 0) return undefined;
  const sameCase = known.find((k) => k.toLowerCase() === value.toLowerCase());
  if (sameCase) return sameCase;
  const candidate = closest(value, [...known]);
  return distance(value, candidate) <= Math.max(2, Math.floor(value.length / 3)) ? candidate : undefined;
}

/** `; did you mean "context"?`, or nothing when no known word is close. */
export function suggest(value: string, known: readonly string[]): string {
  const guess = closestWord(value, known);
  return guess ? `; did you mean "${guess}"?` : '';
}
