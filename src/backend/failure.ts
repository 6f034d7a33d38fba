// How a failed exchange with a backend maps to a stable code (docs/errors.md), and the short
// message a client receives for it: the API, the endpoint and the kind of failure, nothing an
// attacker could use. What an operator acts on is explain.ts's, in the log line.
import { errors as undiciErrors } from 'undici';
import type { RequestCode } from '../errors.js';
import { BackendCertificateError } from './tls.js';

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

/** undici's timeouts: connecting (timeouts.connect), and waiting for headers or body bytes (timeouts.socket). */
export const CONNECT_TIMEOUT = 'UND_ERR_CONNECT_TIMEOUT';
export const SOCKET_TIMEOUTS: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The code for a failure of the backend exchange. Anything not recognised as a certificate,
 * timeout, HTTP or TLS failure is a connection that did not work out: unreachable.
 */
export function classifyBackendError(error: unknown): BackendFailureCode {
  if (error instanceof BackendCertificateError) return error.failure;
  const code = errorCode(error) ?? '';
  if (code === CONNECT_TIMEOUT || SOCKET_TIMEOUTS.has(code)) return 'BACKEND_TIMEOUT';
  if (error instanceof undiciErrors.HTTPParserError || code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
    return 'BACKEND_INVALID_RESPONSE';
  }
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO' || /SSL routines|alert/i.test((error as Error | null)?.message ?? '')) return 'BACKEND_TLS_PROTOCOL';
  return 'BACKEND_UNREACHABLE';
}

/** What the client reads: `API "Shop" version 1.0, production endpoint: the backend is unreachable`. */
export function backendFailureMessage(code: BackendFailureCode, endpointDescription: string): string {
  return `${endpointDescription}: ${KIND[code]}`;
}
