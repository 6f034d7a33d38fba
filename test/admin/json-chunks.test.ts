// The admin's large documents written in pieces (src/admin/json-chunks.ts): the pieces put together
// are byte for byte JSON.stringify(body, null, 2) + '\n', and a response sent that way reaches a
// client whole, over a real socket, with turns of the event loop between the pieces.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { jsonPieces, writeJsonInPieces } from '../../src/admin/json-chunks.js';

const api = (i: number) => ({ name: `Api${i}`, context: `/api${i}`, default: i % 2 === 0, endpoints: { production: { url: `https://127.0.0.1/${i}`, headers: {}, certificates: [`c${i}`], nested: [[1, 2], [], { a: null }] } } });

const bodies: Record<string, Record<string, unknown>> = {
  empty: {},
  scalars: { a: 1, b: 'two\n"quoted"', c: null, d: true, e: undefined, f: 1.5 },
  'short arrays': { list: [1, 2, 3], none: [], objects: [{ x: 1 }] },
  'arrays of every length around a piece': Object.fromEntries([0, 1, 2, 3, 4, 5, 6, 7, 9].map((n) => [`list${n}`, Array.from({ length: n }, (_, i) => api(i))])),
  'an array last': { head: { nested: { deep: [1, { two: 2 }] } }, apis: Array.from({ length: 11 }, (_, i) => api(i)) },
  'arrays of arrays and strings': { matrix: Array.from({ length: 8 }, (_, i) => [i, [i, `x\ny${i}`]]), words: Array.from({ length: 7 }, (_, i) => `w\t${i}`) },
  dates: { at: new Date(0), list: Array.from({ length: 5 }, (_, i) => new Date(i * 1000)) },
};

for (const [name, body] of Object.entries(bodies)) {
  t.test(`${name}: the pieces are JSON.stringify(body, null, 2)`, async (t) => {
    const expected = JSON.stringify(body, null, 2) + '\n';
    for (const size of [1, 2, 3, 250]) t.equal([...jsonPieces(body, size)].join(''), expected, `${size} items per piece`);
    t.same(JSON.parse([...jsonPieces(body, 2)].join('')), JSON.parse(expected));
  });
}

t.test('a top-level array longer than a piece is cut into pieces', async (t) => {
  const pieces = [...jsonPieces({ apis: Array.from({ length: 10 }, (_, i) => api(i)) }, 3)];
  // '{', '"apis": [', 4 slices (3 + 3 + 3 + 1), ']', '}'
  t.equal(pieces.length, 8);
  t.match(pieces[2], /^ {4}\{\n {6}"name": "Api0"/);
});

t.test('over a socket: the whole document arrives, and requests are served between its pieces', async (t) => {
  const body = { revision: 'r', apis: Array.from({ length: 2_000 }, (_, i) => api(i)) };
  let between = 0;
  const server = http.createServer((req, res) => {
    if (req.url === '/ping') return res.end('pong');
    void writeJsonInPieces(res, 200, body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const { port } = server.address() as AddressInfo;
  // A timer that fires while the document is being written is a turn the writer gave back.
  const ticker = setInterval(() => between++, 0);
  const response = await fetch(`http://127.0.0.1:${port}/status`);
  const text = await response.text();
  clearInterval(ticker);
  t.equal(response.status, 200);
  t.equal(response.headers.get('content-type'), 'application/json');
  t.equal(text, JSON.stringify(body, null, 2) + '\n');
  t.ok(between >= 8, `the event loop turned ${between} times while 8 pieces of 250 APIs were written`);
});

t.test('a client that leaves mid-document stops the writing', async (t) => {
  const body = { apis: Array.from({ length: 20_000 }, (_, i) => api(i)) };
  let finished: Promise<void> | undefined;
  let response: http.ServerResponse | undefined;
  const server = http.createServer((_req, res) => {
    response = res;
    finished = writeJsonInPieces(res, 200, body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/' }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
  });
  await finished;
  // Had it gone on, it would have written the rest (30 MB) to nobody and ended the response.
  t.equal(response!.writableEnded, false, 'the writer stopped when the client left, without ending the response');
});
