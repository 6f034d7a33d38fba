// How the gateway connects to one endpoint's backend over TLS: a secure context that trusts
// exactly the endpoint's certificates (docs/configuration.md#certificates), and an undici connector that refuses the
// connection, before a single byte of the request is written, unless
//   1. OpenSSL verified the chain against that context (signatures, dates, purpose), and
//   2. the endpoint's hostname verifier accepts the certificate for the configured host.
//
// Why a connector of our own instead of Node's rejectUnauthorized: when Node refuses a
// certificate it destroys the socket, and the certificate it refused is gone with it; the
// operator then reads "self-signed certificate" with nothing to act on. Here the handshake
// completes, we read the verification result Node computed (socket.authorized) and the
// presented certificate, and refuse the socket ourselves. This is undici's documented pattern
// for custom verification (docs/api/Connector.md). Verification is never skipped: a socket is
// handed to undici only when both checks pass.
import { X509Certificate } from 'node:crypto';
import { createSecureContext, rootCertificates } from 'node:tls';
import type { SecureContext, TLSSocket } from 'node:tls';
import { buildConnector } from 'undici';
import { verifierAccepts } from '../certs/hostname.js';
import { describeCertificate } from '../certs/parse.js';
import type { CertificateInfo } from '../certs/types.js';
import { effectiveCiphers } from '../config/tls.js';
import type { TargetConfig } from '../config/types.js';
import { verifiedHost } from '../config/usage.js';

type Connector = buildConnector.connector;

export type BackendTlsFailure = 'BACKEND_TLS_UNTRUSTED' | 'BACKEND_HOSTNAME_MISMATCH';

/** The backend presented a certificate this endpoint does not accept. */
export class BackendCertificateError extends Error {
  constructor(
    readonly failure: BackendTlsFailure,
    /** OpenSSL's verification code (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE) or ERR_TLS_CERT_ALTNAME_INVALID. */
    readonly reason: string,
    /** The certificate the backend presented (the leaf), when it sent one. */
    readonly presented: CertificateInfo | undefined,
    /** The host the verifier checked. */
    readonly host: string,
  ) {
    super(
      failure === 'BACKEND_TLS_UNTRUSTED'
        ? `backend certificate not trusted: ${reason}`
        : `backend certificate does not name ${host}`,
    );
    this.name = 'BackendCertificateError';
  }
}

/** The secure context of an endpoint: its trust store, versions and ciphers. Built once per pool. */
export function backendSecureContext(endpoint: TargetConfig): SecureContext {
  const { tls } = endpoint;
  const own = endpoint.certificates.flatMap((file) => file.certificates.map((c) => c.pem));
  // Without certificates of its own the endpoint uses Node's default store (the public roots);
  // with them, exactly those, plus the public roots only when asked.
  const ca = own.length === 0 ? undefined : tls.trustSystemCAs ? [...rootCertificates, ...own] : own;
  const ciphers = effectiveCiphers(tls.minVersion, tls.ciphers);
  // Who we are, when the backend asks (mutual TLS, SPEC §9): the target's own pair, never a process-wide one.
  const client = endpoint.clientCertificate;
  const credentials = client?.credentials;
  const identity = !credentials
    ? {}
    : credentials.kind === 'pfx'
      ? { pfx: credentials.pfx, ...(client.passphrase !== undefined ? { passphrase: client.passphrase } : {}) }
      : { cert: credentials.cert, key: credentials.key, ...(client.passphrase !== undefined ? { passphrase: client.passphrase } : {}) };
  return createSecureContext({
    ...identity,
    ...(ca ? { ca } : {}),
    // A dropped leaf (or intermediate) is a trust anchor, as in a Java truststore.
    allowPartialTrustChain: true,
    minVersion: tls.minVersion,
    maxVersion: tls.maxVersion,
    ...(ciphers ? { ciphers } : {}),
  });
}

/**
 * The TLS error a backend connection met after its handshake, kept on the socket. undici reports
 * a connection that ended under a request as "other side closed" and drops the error that ended
 * it; in TLS 1.3 that error is how a backend refuses the client certificate (an alert on the
 * first read, the handshake being over on the client's side). The proxy reads it from here.
 */
export const LATE_TLS_ERROR = Symbol('gatehouse.lateTlsError');

export type BackendSocket = TLSSocket & { [LATE_TLS_ERROR]?: Error };

export function backendConnector(endpoint: TargetConfig): Connector {
  if (endpoint.protocol === 'http:') return buildConnector({ timeout: endpoint.timeouts.connectMs });
  const { host, verifier } = verifiedHost(endpoint);
  const base = buildConnector({
    secureContext: backendSecureContext(endpoint),
    // Checked below, on the completed handshake; see the comment at the top of this file.
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
    ...(endpoint.tls.serverName ? { servername: endpoint.tls.serverName } : {}),
    timeout: endpoint.timeouts.connectMs,
    // No session resumption: every connection presents, and has checked, its certificate.
    maxCachedSessions: 0,
  });

  return (options, callback) => {
    base(options, (error, socket) => {
      if (error) return callback(error, null);
      const tlsSocket = socket as TLSSocket;
      // Not getPeerX509Certificate(): on Node 20 a client-side call takes the leaf out of the
      // socket's peer chain, so later readers (gatehouse check) would see none. Once per connection.
      const raw = tlsSocket.getPeerCertificate().raw as Buffer | undefined;
      const peer = raw ? new X509Certificate(raw) : undefined;
      let refusal: BackendCertificateError | undefined;
      if (!tlsSocket.authorized) {
        const reason = String(tlsSocket.authorizationError ?? 'UNKNOWN_VERIFICATION_ERROR');
        refusal = new BackendCertificateError('BACKEND_TLS_UNTRUSTED', reason, peer && describeCertificate(peer), host);
      } else if (!peer || !verifierAccepts(verifier, peer, host)) {
        refusal = new BackendCertificateError('BACKEND_HOSTNAME_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID', peer && describeCertificate(peer), host);
      }
      if (refusal) {
        tlsSocket.destroy();
        return callback(refusal, null);
      }
      tlsSocket.once('error', (late: Error) => ((tlsSocket as BackendSocket)[LATE_TLS_ERROR] = late));
      callback(null, tlsSocket);
    });
  };
}
