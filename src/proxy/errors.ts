// What a client receives when the gateway answers instead of the backend (SPEC §4), and how a
// failure of the backend maps to a stable code. The client gets the code, a short message naming
// the API, the endpoint and the kind of failure, and the request id; the log line with the same
// request id carries what an operator acts on.
import type { ServerResponse } from 'node:http';
import { errors as undiciErrors } from 'undici';
import { CODES } from '../errors.js';
import type { RequestCode } from '../errors.js';
import { BackendCertificateError } from '../snapshot/backend-tls.js';
import { REQUEST_ID_HEADER } from './headers.js';

export type BackendFailureCode = Extract<
  RequestCode,
  'BACKEND_TLS_UNTRUSTED' | 'BACKEND_HOSTNAME_MISMATCH' | 'BACKEND_TLS_PROTOCOL' | 'BACKEND_UNREACHABLE' | 'BACKEND_INVALID_RESPONSE' | 'BACKEND_TIMEOUT'
>;

const KIND: Record<BackendFailureCode, string> = {
  BACKEND_TLS_UNTRUSTED: "the backend's TLS certificate is not trusted",
  BACKEND_HOSTNAME_MISMATCH: "the backend's TLS certificate does not name its host",
  BACKEND_TLS_PROTOCOL: 'the TLS handshake with the backend failed (protocol version or cipher)',
  BACKEND_UNREACHABLE: 'the backend is unreachable',
  BACKEND_INVALID_RESPONSE: 'the backend sent an invalid HTTP response',
  BACKEND_TIMEOUT: 'the backend did not answer in time',
};

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The code for a failure of the backend exchange. */
export function classifyBackendError(error: unknown): BackendFailureCode {
  if (error instanceof BackendCertificateError) return error.failure;
  const code = errorCode(error) ?? '';
  if (TIMEOUT_CODES.has(code)) return 'BACKEND_TIMEOUT';
  if (error instanceof undiciErrors.HTTPParserError || code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
    return 'BACKEND_INVALID_RESPONSE';
  }
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO' || /SSL routines|alert/i.test((error as Error | null)?.message ?? '')) return 'BACKEND_TLS_PROTOCOL';
  if (UNREACHABLE_CODES.has(code)) return 'BACKEND_UNREACHABLE';
  return 'BACKEND_UNREACHABLE';
}

export function backendFailureMessage(code: BackendFailureCode, endpointDescription: string): string {
  return `${endpointDescription}: ${KIND[code]}`;
}

/** Writes {"error": {...}} with the code's status. `extra` are more headers (Allow for 405). */
export function sendError(res: ServerResponse, code: RequestCode, message: string, requestId: string, extra: readonly string[] = []): void {
  const body = JSON.stringify({ error: { code, message, requestId } });
  res.writeHead(CODES[code].status, [
    'content-type',
    'application/json; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    'cache-control',
    'no-store',
    REQUEST_ID_HEADER,
    requestId,
    ...extra,
  ]);
  res.end(body);
}
