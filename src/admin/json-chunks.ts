// A large admin document (/status at 5,000 APIs is 8 MB of JSON) written in pieces, so that
// serializing it never holds up the requests the same thread serves: JSON.stringify of the whole
// takes about 40 ms there. The text is exactly JSON.stringify(body, null, 2) + '\n'; only the
// top-level arrays are cut, a slice of items at a time, with a turn of the event loop between.
// (Streaming JSON packages exist, e.g. json-stream-stringify, but they yield per token: far more
// calls for the same text, and this needs one cut, at one depth.)
import type { ServerResponse } from 'node:http';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Items serialized in one turn: 250 APIs of /status are about 400 KB, 2 ms. */
const ITEMS_PER_PIECE = 250;

/** The pieces of JSON.stringify(body, null, 2) + '\n', a top-level array cut every `itemsPerPiece` items. */
export function* jsonPieces(body: Record<string, unknown>, itemsPerPiece = ITEMS_PER_PIECE): Generator<string> {
  const entries = Object.entries(body).filter(([, value]) => value !== undefined && typeof value !== 'function');
  if (entries.length === 0) {
    yield '{}\n';
    return;
  }
  yield '{\n';
  for (let e = 0; e < entries.length; e++) {
    const [key, value] = entries[e]!;
    const end = e < entries.length - 1 ? ',\n' : '\n';
    if (!Array.isArray(value) || value.length <= itemsPerPiece) {
      yield `  ${JSON.stringify(key)}: ${indent(JSON.stringify(value, null, 2))}${end}`;
      continue;
    }
    yield `  ${JSON.stringify(key)}: [\n`;
    for (let i = 0; i < value.length; i += itemsPerPiece) {
      // A slice serialized as an array is "[\n  item,\n  item\n]": its inside, one level deeper.
      const slice = JSON.stringify(value.slice(i, i + itemsPerPiece), null, 2);
      yield `  ${indent(slice.slice(2, -2))}${i + itemsPerPiece < value.length ? ',' : ''}\n`;
    }
    yield `  ]${end}`;
  }
  yield '}\n';
}

/** Lines after the first moved one level (two spaces) right, as they are inside the top-level object. */
function indent(text: string): string {
  return text.includes('\n') ? text.replaceAll('\n', '\n  ') : text;
}

/** Writes `body` as JSON (pretty, as JSON.stringify(body, null, 2)), a piece per turn of the event loop, minding back-pressure. */
export async function writeJsonInPieces(res: ServerResponse, status: number, body: Record<string, unknown>): Promise<void> {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  let first = true;
  for (const piece of jsonPieces(body)) {
    if (!first) await nextTurn();
    first = false;
    if (res.destroyed) return;
    if (!res.write(piece)) await drainedOrClosed(res);
  }
  res.end();
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
