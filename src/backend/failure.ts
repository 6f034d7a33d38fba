// How a failed exchange with a backend maps to a stable code (docs/errors.md), and the short
// message a client receives for it: the API, the endpoint and the kind of failure, nothing an
// attacker could use. What an operator acts on is explain.ts's, in the log line.
import { errors as undiciErrors } from 'undici';
import type { RequestCode } from '../errors.js';
import { BackendCertificateError } from './tls.js';

export type BackendFailureCode = Extract<
  RequestCode,
  'BACKEND_TLS_UNTRUSTED' | 'BACKEND_HOSTNAME_MISMATCH' | 'BACKEND_TLS_PROTOCOL' | 'BACKEND_TLS_CLIENT_CERTIFICATE' | 'BACKEND_UNREACHABLE' | 'BACKEND_INVALID_RESPONSE' | 'BACKEND_TIMEOUT'
>;

const KIND: Record<BackendFailureCode, string> = {
  BACKEND_TLS_UNTRUSTED: "the backend's TLS certificate is not trusted",
  BACKEND_HOSTNAME_MISMATCH: "the backend's TLS certificate does not name its host",
  BACKEND_TLS_PROTOCOL: 'the TLS handshake with the backend failed (protocol version or cipher)',
  BACKEND_TLS_CLIENT_CERTIFICATE: "the backend refused the gateway's client certificate",
  BACKEND_UNREACHABLE: 'the backend is unreachable',
  BACKEND_INVALID_RESPONSE: 'the backend sent an invalid HTTP response',
  BACKEND_TIMEOUT: 'the backend did not answer in time',
};

/** undici's timeouts: connecting (timeouts.connect), and waiting for headers or body bytes (timeouts.socket). */
export const CONNECT_TIMEOUT = 'UND_ERR_CONNECT_TIMEOUT';
export const SOCKET_TIMEOUTS: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * The alerts a server sends about the client's certificate (RFC 8446 §6.2): none sent when one
 * is required, or one it does not accept (unknown CA, bad, expired, revoked, unsupported). In
 * TLS 1.3 the server checks the client's certificate after the client's side of the handshake is
 * done, so the alert arrives as the error of the first read (OpenSSL: "tlsv13 alert certificate
 * required", code ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED).
 */
const CLIENT_CERTIFICATE_ALERT = /ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNSUPPORTED_CERTIFICATE|CERTIFICATE_UNKNOWN|ACCESS_DENIED)/;

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
  if (CLIENT_CERTIFICATE_ALERT.test(code) || CLIENT_CERTIFICATE_ALERT.test((error as Error | null)?.message?.replace(/ /g, '_').toUpperCase() ?? '')) return 'BACKEND_TLS_CLIENT_CERTIFICATE';
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO' || /SSL routines|alert/i.test((error as Error | null)?.message ?? '')) return 'BACKEND_TLS_PROTOCOL';
  return 'BACKEND_UNREACHABLE';
}

/** What the client reads: `API "Shop" version 1.0, production endpoint: the backend is unreachable`. */
export function backendFailureMessage(code: BackendFailureCode, endpointDescription: string): string {
  return `${endpointDescription}: ${KIND[code]}`;
}
