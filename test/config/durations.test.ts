import fc from 'fast-check';
import t from 'tap';
import { formatDuration, isUnitless, parseDuration } from '../../src/config/durations.js';
import { schema } from '../../src/config/schema.js';

/** The schema's duration pattern: what editors and ajv accept must be what parseDuration reads. */
const pattern = new RegExp(schema.definitions!.duration!.pattern!, 'u');

const table: [unknown, number | undefined][] = [
  ['500ms', 500],
  ['10s', 10_000],
  ['1.5s', 1_500],
  ['0.5d', 43_200_000],
  ['1.5ms', 2],
  ['2m', 120_000],
  ['1h', 3_600_000],
  ['30d', 2_592_000_000],
  ['1m30s', 90_000],
  ['1h30m', 5_400_000],
  ['2d12h', 216_000_000],
  ['1s500ms', 1_500],
  ['1d2h3m4s5ms', 93_784_005],
  ['1m1ms', 60_001],
  ['1h90m', 9_000_000],
  ['250', 250],
  [2000, 2000],
  [0, 0],
  ['0s', 0],
  ['0', 0],
  ['5 sec', undefined],
  ['1m 30s', undefined],
  ['30s1m', undefined],
  ['1m1m', undefined],
  ['1ms1s', undefined],
  ['1.5m30s', undefined],
  ['1m30.5s', undefined],
  ['1.5', undefined],
  ['-1s', undefined],
  ['1S', undefined],
  ['', undefined],
  ['ms', undefined],
  [-5, undefined],
  [1.5, undefined],
  ['s', undefined],
  [true, undefined],
];

t.test('parseDuration reads every unit, compound durations and integer milliseconds', async (t) => {
  for (const [input, expected] of table) t.equal(parseDuration(input), expected, JSON.stringify(input));
});

t.test("the schema's pattern accepts exactly the strings parseDuration reads", async (t) => {
  for (const [input, expected] of table) {
    if (typeof input === 'string') t.equal(pattern.test(input), expected !== undefined, JSON.stringify(input));
  }
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9.dhms ]{0,10}$/), (text) => pattern.test(text) === (parseDuration(text) !== undefined)),
    { numRuns: 2000 },
  );
});

t.test('formatDuration writes the form the configuration reads', async (t) => {
  t.equal(formatDuration(86_400_000), '1d');
  t.equal(formatDuration(1_500), '1.5s');
  t.equal(formatDuration(120_000), '2m');
  t.equal(formatDuration(250), '250ms');
  t.equal(formatDuration(0), '0ms');
  t.equal(formatDuration(90_000), '1m30s');
  t.equal(formatDuration(216_000_000), '2d12h');
  t.equal(formatDuration(3_600_500), '1h500ms');
  t.equal(formatDuration(61_500), '1m1s500ms');
  fc.assert(
    fc.property(fc.nat({ max: 400 * 86_400_000 }), (ms) => parseDuration(formatDuration(ms)) === ms),
    { numRuns: 2000 },
  );
});

t.test('isUnitless: numbers, and text of digits only', async (t) => {
  t.ok(isUnitless(60));
  t.ok(isUnitless('60'));
  t.notOk(isUnitless('60s'));
  t.notOk(isUnitless('1.5'));
  t.notOk(isUnitless(undefined));
});
