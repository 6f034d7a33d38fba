import t from 'tap';
import { formatDuration, parseDuration } from '../../src/config/durations.js';

t.test('parseDuration reads every unit and integer milliseconds', async (t) => {
  const table: [unknown, number | undefined][] = [
    ['500ms', 500],
    ['10s', 10_000],
    ['1.5s', 1_500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['30d', 2_592_000_000],
    ['250', 250],
    [2000, 2000],
    [0, 0],
    ['0s', 0],
    ['5 sec', undefined],
    ['1.5', undefined],
    ['-1s', undefined],
    [-5, undefined],
    [1.5, undefined],
    ['s', undefined],
    [true, undefined],
  ];
  for (const [input, expected] of table) t.equal(parseDuration(input), expected, JSON.stringify(input));
});

t.test('formatDuration picks the largest whole unit', async (t) => {
  t.equal(formatDuration(86_400_000), '1d');
  t.equal(formatDuration(1_500), '1.5s');
  t.equal(formatDuration(120_000), '2m');
  t.equal(formatDuration(250), '250ms');
});
