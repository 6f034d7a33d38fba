// The access log writes the line pino would write (same fields, same order, same destination),
// in batches, and respects the logger's level.
import pino from 'pino';
import t from 'tap';
import { AccessLog } from '../../src/proxy/access-log.js';
import { labelsOf } from '../../src/snapshot/snapshot.js';
import { LogCapture } from '../helpers/gateway.js';

t.test('the same line as pino, field for field', async (t) => {
  const capture = new LogCapture();
  const logger = pino({ name: 'gatehouse', base: { pid: 4242 } }, capture);
  const access = new AccessLog(logger);
  const fields = {
    requestId: 'id-42:abc/DEF=',
    method: 'GET',
    path: '/api/v1/ünïcode/"x"',
    client: '10.1.2.3',
    status: 502,
    durationMs: 12.34,
  };
  access.write({ ...fields, labels: labelsOf('Shop "A"', '1.0', 'production'), code: 'BACKEND_TLS_UNTRUSTED', detail: { backend: 'https://b:1', error: { code: 'X' } } });
  access.flush();
  logger.info({ ...fields, api: 'Shop "A"', version: '1.0', endpoint: 'production', code: 'BACKEND_TLS_UNTRUSTED', backend: 'https://b:1', error: { code: 'X' } }, 'request');
  t.equal(capture.lines.length, 2);
  const [ours, theirs] = [capture.lines[0]!, capture.lines[1]!];
  t.same(Object.keys(ours), Object.keys(theirs), 'same fields in the same order');
  t.same({ ...ours, time: 0 }, { ...theirs, time: 0 }, 'same values');
});

t.test('lines are batched, flushed on a timer, and skipped below the level', async (t) => {
  const capture = new LogCapture();
  const access = new AccessLog(pino({}, capture));
  const line = { requestId: 'r', method: 'GET', path: '/', client: '127.0.0.1', status: 200, durationMs: 1, labels: undefined, code: undefined, detail: undefined };
  for (let i = 0; i < 63; i++) access.write(line);
  t.equal(capture.raw.length, 0, 'waiting for a batch');
  access.write(line);
  t.equal(capture.raw.length, 64, 'a full batch is written at once');
  access.write(line);
  await capture.waitFor(() => capture.raw.length === 65, 2_000);
  t.pass('a partial batch is written by the timer');

  const quiet = new LogCapture();
  const warnOnly = new AccessLog(pino({ level: 'warn' }, quiet));
  warnOnly.write(line);
  warnOnly.flush();
  t.equal(quiet.raw.length, 0, 'no access line below the info level');
});
