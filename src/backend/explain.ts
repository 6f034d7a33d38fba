// Why an exchange with a backend failed, in the words an operator acts on: one explanation, so
// that the log line of a failed request, `gatehouse check` and reload.preflight say the same
// sentence for the same failure. Pure: the failure, the endpoint's configuration and the time in;
// a kind, a reason and a hint out.
import { checkedHostClause, hostnameRemedy, namesOf, signedBy } from '../certs/hostname.js';
import { certificateLabel } from '../certs/parse.js';
import type { CertificateFile, CertificateInfo } from '../certs/types.js';
import { formatDuration } from '../config/durations.js';
import type { TargetConfig } from '../config/types.js';
import { misspeltAlias, verifiedHost } from '../config/usage.js';
import { plural, quoteArg } from '../text.js';
import { dateOf, daysSince } from '../time.js';
import { CONNECT_TIMEOUT, SOCKET_TIMEOUTS, errorCode } from './failure.js';
import type { BackendFailureCode } from './failure.js';
import { BackendCertificateError } from './tls.js';

/** What `gatehouse check` reports for a failure. */
export type FailureKind = 'untrusted' | 'expired' | 'hostname-mismatch' | 'protocol' | 'client-certificate' | 'unreachable' | 'timeout';

export interface Explanation {
  readonly kind: FailureKind;
  /** OpenSSL's verification code (UNABLE_TO_VERIFY_LEAF_SIGNATURE…) or the socket error's code (ECONNREFUSED…). */
  readonly reason?: string;
  /** One sentence that says what happened and what to do. */
  readonly hint: string;
}

export interface Failure {
  readonly code: BackendFailureCode;
  readonly error: Error;
}

/** OpenSSL's verification codes, as the end of "the backend presents X, which …". */
const VERIFY_REASONS: Record<string, string> = {
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'is issued by a CA this endpoint does not trust',
  UNABLE_TO_GET_ISSUER_CERT: 'is issued by a CA this endpoint does not trust',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'is issued by a CA this endpoint does not trust',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'is self-signed and not one this endpoint trusts',
  SELF_SIGNED_CERT_IN_CHAIN: 'chains to a self-signed root this endpoint does not trust',
  CERT_SIGNATURE_FAILURE: 'has a signature that does not verify',
  CERT_UNTRUSTED: 'is not trusted for server authentication',
  INVALID_PURPOSE: 'is not meant for server authentication (its key usage does not allow it)',
};

/** Verification codes OpenSSL gives when a trust anchor is not a CA (Node reports INVALID_PURPOSE or UNSPECIFIED, openssl verify "invalid CA certificate"). */
const NOT_A_CA_REASONS: ReadonlySet<string> = new Set(['INVALID_PURPOSE', 'INVALID_CA', 'UNSPECIFIED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE']);

export function explainFailure(failure: Failure, endpoint: TargetConfig, nowMs: number): Explanation {
  const { code, error } = failure;
  const certificateError = error instanceof BackendCertificateError ? error : undefined;
  const reason = certificateError?.reason ?? errorCode(error);
  const presented = certificateError?.presented;
  switch (code) {
    case 'BACKEND_TLS_UNTRUSTED':
      return untrusted(reason ?? 'UNKNOWN_VERIFICATION_ERROR', presented, endpoint, nowMs);
    case 'BACKEND_HOSTNAME_MISMATCH': {
      const target = verifiedHost(endpoint);
      return {
        kind: 'hostname-mismatch',
        reason: 'ERR_TLS_CERT_ALTNAME_INVALID',
        hint: `the backend presents ${labelOf(presented)}, which names ${presented ? namesOf(presented) : 'no name'} but not ${checkedHostClause(target)}; ${hostnameRemedy(target)}`,
      };
    }
    case 'BACKEND_TLS_PROTOCOL': {
      const ciphers = endpoint.tls.ciphers ? ` and ciphers "${endpoint.tls.ciphers}"` : '';
      return {
        kind: 'protocol',
        ...(reason ? { reason } : {}),
        hint: `no TLS version or cipher in common with the backend (this endpoint allows ${endpoint.tls.protocols.join(', ')}${ciphers}): widen tls.protocols or tls.ciphers, or upgrade the backend; if ${targetOf(endpoint)} speaks plain HTTP, the URL must start with http://`,
      };
    }
    case 'BACKEND_TLS_CLIENT_CERTIFICATE':
      return { kind: 'client-certificate', ...(reason ? { reason } : {}), hint: clientCertificateHint(reason, endpoint) };
    case 'BACKEND_INVALID_RESPONSE':
      return {
        kind: 'protocol',
        ...(reason ? { reason } : {}),
        hint: `${targetOf(endpoint)} answered with something that is not HTTP/1.1${reason ? ` (${reason})` : ''}: check the URL's scheme and port (an https:// URL on a plain-HTTP port, or a service that does not speak HTTP)`,
      };
    case 'BACKEND_TIMEOUT':
      return { kind: 'timeout', ...(reason ? { reason } : {}), hint: timeoutHint(reason, endpoint) };
    case 'BACKEND_UNREACHABLE':
      return { kind: 'unreachable', ...(reason ? { reason } : {}), hint: unreachableHint(reason, endpoint) };
  }
}

function untrusted(reason: string, presented: CertificateInfo | undefined, endpoint: TargetConfig, nowMs: number): Explanation {
  const label = labelOf(presented);
  // OpenSSL names the first problem it meets; an expired certificate is named "expired" even when
  // the chain is not trusted either, since that is what must be fixed first.
  if (reason === 'CERT_HAS_EXPIRED' || (presented !== undefined && presented.notAfterMs < nowMs)) {
    return { kind: 'expired', reason, hint: expiredHint(reason, presented, endpoint, nowMs) };
  }
  if (reason === 'CERT_NOT_YET_VALID') {
    const until = presented ? ` until ${dateOf(presented.notBefore)}` : '';
    return { kind: 'untrusted', reason, hint: `the backend presents ${label}, which is not valid yet${until}: check this machine's clock and the certificate's dates; no trust setting makes it acceptable before then` };
  }
  const notACa = presented && NOT_A_CA_REASONS.has(reason) ? trustedIssuerThatIsNotACa(presented, endpoint) : undefined;
  if (notACa) {
    return {
      kind: 'untrusted',
      reason,
      hint: `the backend presents ${label}, issued by "${certificateLabel(notACa.certificate)}", which this endpoint trusts as certificate "${notACa.file.alias}"; but that certificate is not a CA (CA:FALSE), so it cannot vouch for another certificate: trust the backend's own certificate (\`${fetchCommand(endpoint, 'NAME')}\`, compare its fingerprint with its owner's) or the real CA that issued it`,
    };
  }
  const why = VERIFY_REASONS[reason] ?? `fails verification (${reason})`;
  const add = endpoint.certificateAliases.length ? `add NAME to this endpoint's certificate list (a list trusts old and new during a rotation)` : `set this endpoint's certificate to NAME`;
  return {
    kind: 'untrusted',
    reason,
    hint: `the backend presents ${label}, which ${why}; this endpoint trusts ${trustedText(endpoint)}. If it is the right certificate, capture it with \`${fetchCommand(endpoint, 'NAME')}\` (compare its fingerprint with its owner's) and ${add}`,
  };
}

/** Never "fetch it again": an expired certificate is refused whatever is trusted; say whose it is to renew. */
function expiredHint(reason: string, presented: CertificateInfo | undefined, endpoint: TargetConfig, nowMs: number): string {
  if (presented && presented.notAfterMs < nowMs) {
    const alsoUntrusted = reason !== 'CERT_HAS_EXPIRED' ? `; it is not trusted by this endpoint either (${reason})` : '';
    return `the backend presents ${labelOf(presented)}, which expired on ${dateOf(presented.notAfter)} (${plural(daysSince(presented.notAfterMs, nowMs), 'day')} ago): its owner must renew it; no trust setting makes an expired certificate acceptable${alsoUntrusted}`;
  }
  const trusted = expiredTrusted(endpoint, nowMs);
  if (trusted) {
    return `the certificate "${trusted.file.alias}" this endpoint trusts (${certificateLabel(trusted.certificate)}) expired on ${dateOf(trusted.certificate.notAfter)}, and a chain through it is refused: drop its renewal into the certificates folder as ${trusted.file.alias}.crt (the backend's own ${labelOf(presented)} is current)`;
  }
  return `a certificate of the chain the backend presents has expired (CERT_HAS_EXPIRED), though its leaf ${labelOf(presented)} has not: the backend must present a current intermediate; no trust setting makes an expired certificate acceptable`;
}

function timeoutHint(reason: string | undefined, endpoint: TargetConfig): string {
  const target = targetOf(endpoint);
  const socket = formatDuration(endpoint.timeouts.socketMs);
  if (reason !== undefined && SOCKET_TIMEOUTS.has(reason)) {
    const what = reason === 'UND_ERR_BODY_TIMEOUT' ? 'sent nothing more of its response body' : 'sent no response headers';
    return `${target} ${what} within timeouts.socket (${socket}): the backend is slow or stuck; if it is slow by design, raise timeouts.socket for this endpoint or API (WSO2's http.socket.timeout)`;
  }
  const what = endpoint.protocol === 'https:' ? 'connection and TLS handshake' : 'connection';
  const via = reason === CONNECT_TIMEOUT || reason === undefined ? '' : ` (${reason})`;
  return `no ${what} within timeouts.connect (${formatDuration(endpoint.timeouts.connectMs)}) at ${target}${via}: check that the backend is reachable from here${endpoint.protocol === 'https:' ? ' and speaks TLS on that port' : ''}, or raise timeouts.connect`;
}

function unreachableHint(reason: string | undefined, endpoint: TargetConfig): string {
  const target = targetOf(endpoint);
  switch (reason) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host name "${endpoint.hostname}" does not resolve (${reason}): check the URL and DNS`;
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return `the connection to ${target} was closed before a response (${reason}): check the backend's logs (it may have crashed, or refused the request), and that ${target} is the backend's port`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no network route to ${target} (${reason}): check the URL's host, and the network and firewalls between the gateway and the backend`;
    default:
      return `nothing accepted a connection at ${target}${reason ? ` (${reason})` : ''}: check the URL's host and port, that the backend runs, and firewalls`;
  }
}

/** A trusted certificate that is not a CA, yet signed what the backend presents: the user took it for a CA. */
function trustedIssuerThatIsNotACa(presented: CertificateInfo, endpoint: TargetConfig): { file: CertificateFile; certificate: CertificateInfo } | undefined {
  for (const file of endpoint.certificates) {
    for (const certificate of file.certificates) {
      if (!certificate.isCA && certificate.fingerprint256 !== presented.fingerprint256 && signedBy(presented, certificate)) return { file, certificate };
    }
  }
  return undefined;
}

function expiredTrusted(endpoint: TargetConfig, nowMs: number): { file: CertificateFile; certificate: CertificateInfo } | undefined {
  for (const file of endpoint.certificates) {
    for (const certificate of file.certificates) if (certificate.notAfterMs < nowMs) return { file, certificate };
  }
  return undefined;
}

/** `"CN=orders.internal" (issuer "CN=Orders CA")`, or `its certificate` when none was presented. */
function labelOf(presented: CertificateInfo | undefined): string {
  return presented ? `"${certificateLabel(presented)}" (issuer "${presented.issuer}")` : 'its certificate';
}

/** host:port, with IPv6 addresses bracketed. */
function targetOf(endpoint: TargetConfig): string {
  return `${endpoint.hostname.includes(':') ? `[${endpoint.hostname}]` : endpoint.hostname}:${endpoint.port}`;
}

function trustedText(endpoint: TargetConfig): string {
  if (endpoint.certificateAliases.length === 0) return 'the system roots';
  const own = `certificate ${endpoint.certificateAliases.join(', ')}`;
  return endpoint.tls.trustSystemCAs ? `${own} and the system roots` : own;
}

/** The command that captures this endpoint's backend certificate under `alias`. */
function fetchCommand(endpoint: TargetConfig, alias: string): string {
  const servername = endpoint.tls.serverName ? ` --servername ${quoteArg(endpoint.tls.serverName)}` : '';
  return `gatehouse cert fetch ${quoteArg(endpoint.origin)} --alias ${quoteArg(alias)}${servername}`;
}

/**
 * An endpoint none of whose aliases has a file yet (503 CERTIFICATE_PENDING). `folder` is the
 * certificates folder as the reader should see it; `known` the aliases it has.
 */
export function explainPending(endpoint: TargetConfig, folder: string, known: readonly string[]): string {
  const aliases = endpoint.pendingAliases;
  const files = aliases.map((a) => `${a}.crt`).join(', ');
  return `no file for certificate alias${aliases.length > 1 ? 'es' : ''} ${aliases.map((a) => `"${a}"`).join(', ')} in ${folder} yet${misspelt(endpoint, known)}: this endpoint answers 503 CERTIFICATE_PENDING until one appears. Drop ${files} there, or capture it with \`${fetchCommand(endpoint, aliases[0]!)}\``;
}

/** ` (did you mean "orders"?)` when a pending alias looks like a misspelt one the folder has. */
export function misspelt(endpoint: TargetConfig, known: readonly string[]): string {
  const guess = misspeltAlias(endpoint, known);
  return guess ? ` (did you mean "${guess}"?)` : '';
}

/** One line of a TLS or socket error: OpenSSL's messages carry a file position and a trailing newline. */
export function errorText(error: Error): string {
  const reason = (error as { reason?: unknown }).reason;
  const text = typeof reason === 'string' && /SSL routines/.test(error.message) ? `${reason} (${errorCode(error) ?? 'TLS error'})` : error.message;
  return text.replace(/\s+/g, ' ').trim();
}

/** The certificate a target offers to its backend, as a log line shows it: never its key or passphrase. */
export function offeredClientCertificate(endpoint: TargetConfig): Record<string, unknown> | string {
  const client = endpoint.clientCertificate;
  const leaf = client?.credentials?.certificates[0];
  if (!client || !leaf) return 'none';
  return { alias: client.alias, subject: leaf.subject, issuer: leaf.issuer, notAfter: leaf.notAfter, fingerprint256: leaf.fingerprint256 };
}

function clientCertificateHint(reason: string | undefined, endpoint: TargetConfig): string {
  const client = endpoint.clientCertificate;
  const leaf = client?.credentials?.certificates[0];
  const alert = reason ? ` (${reason})` : '';
  if (!client || !leaf) return `${targetOf(endpoint)} asks for a client certificate and none is configured${alert}: set clientCertificate: <alias> and drop <alias>.crt + <alias>.key (or <alias>.p12) into the certificates folder`;
  return `${targetOf(endpoint)} refused the client certificate "${client.alias}" ("${leaf.subject}", issued by "${leaf.issuer}", expires ${leaf.notAfter})${alert}: the backend must trust its issuer, or give the gateway a certificate the backend accepts`;
}

/** The certificate fields a report shows of a presented certificate. */
export function presentedFields(c: CertificateInfo): { subject: string; issuer: string; subjectAltNames: readonly string[]; notBefore: string; notAfter: string; fingerprint256: string } {
  return { subject: c.subject, issuer: c.issuer, subjectAltNames: c.subjectAltNames, notBefore: c.notBefore, notAfter: c.notAfter, fingerprint256: c.fingerprint256 };
}

/** What the log line of a failed request carries for the operator (never sent to the client). */
export function failureDetail(failure: Failure, endpoint: TargetConfig, nowMs: number): Record<string, unknown> {
  const { code, error } = failure;
  const explanation = explainFailure(failure, endpoint, nowMs);
  const detail: Record<string, unknown> = {
    backend: endpoint.origin,
    error: { name: error.name, code: errorCode(error), message: errorText(error) },
  };
  if (error instanceof BackendCertificateError) {
    detail.verifiedHost = error.host;
    detail.hostnameVerifier = endpoint.tls.hostnameVerifier;
    if (error.presented) detail.presentedCertificate = presentedFields(error.presented);
  }
  if (code === 'BACKEND_TLS_UNTRUSTED' || code === 'BACKEND_HOSTNAME_MISMATCH' || code === 'BACKEND_TLS_PROTOCOL') {
    detail.trusted = endpoint.certificates.length
      ? endpoint.certificates.map((file) => ({
          alias: file.alias,
          certificates: file.certificates.map((c) => ({ subject: c.subject, notAfter: c.notAfter, fingerprint256: c.fingerprint256 })),
        }))
      : 'system roots';
    detail.protocols = endpoint.tls.protocols;
  }
  if (code === 'BACKEND_TLS_CLIENT_CERTIFICATE') detail.offeredClientCertificate = offeredClientCertificate(endpoint);
  if (code === 'BACKEND_TIMEOUT') {
    const socket = explanation.reason !== undefined && SOCKET_TIMEOUTS.has(explanation.reason);
    detail.timeout = socket ? { setting: 'timeouts.socket', ms: endpoint.timeouts.socketMs } : { setting: 'timeouts.connect', ms: endpoint.timeouts.connectMs };
  }
  detail.hint = explanation.hint;
  return detail;
}
