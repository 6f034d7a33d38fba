// What a client receives when the gateway answers instead of the backend: JSON
// {"error": {"code", "message", "requestId"}} with the code's status (docs/errors.md). The log
// line with the same request id carries what an operator acts on.
import type { ServerResponse } from 'node:http';
import { CODES } from '../errors.js';
import type { RequestCode } from '../errors.js';
import { REQUEST_ID_HEADER } from './headers.js';

/** Writes {"error": {...}} with the code's status. `extra` are more headers (Allow for 405). Returns the body's length in bytes. */
export function sendError(res: ServerResponse, code: RequestCode, message: string, requestId: string, extra: readonly string[] = []): number {
  const body = JSON.stringify({ error: { code, message, requestId } });
  const length = Buffer.byteLength(body);
  res.writeHead(CODES[code].status, [
    'content-type',
    'application/json; charset=utf-8',
    'content-length',
    String(length),
    'cache-control',
    'no-store',
    REQUEST_ID_HEADER,
    requestId,
    ...extra,
  ]);
  res.end(body);
  return length;
}
