// Handshakes that send nothing:
// - probeEndpoint: one handshake with an endpoint's backend, made exactly as the endpoint's pool
//   makes its connections (tls.ts: its trust, hostname verifier, tls.serverName, protocols,
//   ciphers and connect timeout). What `gatehouse check` reports and what reload.preflight
//   decides on; explain.ts says why a failed one failed.
// - fetchPresentedChain: the certificates a backend presents, trusting nothing. What
//   `gatehouse cert fetch` captures.
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { connect, createSecureContext } from 'node:tls';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { bareHost } from '../certs/hostname.js';
import { describeCertificate } from '../certs/parse.js';
import type { CertificateInfo } from '../certs/types.js';
import { mapWithConcurrency } from '../concurrency.js';
import { formatDuration } from '../config/durations.js';
import { effectiveCiphers } from '../config/tls.js';
import type { TargetConfig } from '../config/types.js';
import { classifyBackendError } from './failure.js';
import type { BackendFailureCode } from './failure.js';
import { BackendCertificateError, backendConnector } from './tls.js';

/** Handshakes at once: a hundred endpoints are checked in a few round trips, a thousand without a storm. */
const PROBE_CONCURRENCY = 16;

export type Probe =
  | {
      readonly ok: true;
      /** The leaf the backend presented (absent for http: endpoints, or when not asked for). */
      readonly presented?: CertificateInfo;
      /** The negotiated TLS version (absent for http: endpoints). */
      readonly tlsVersion?: string;
      readonly durationMs: number;
    }
  | {
      readonly ok: false;
      readonly code: BackendFailureCode;
      readonly error: Error;
      /**
       * The leaf the backend presented, when the handshake got that far: the connector completes
       * the handshake before it refuses a certificate, so a refused certificate is still known.
       */
      readonly presented?: CertificateInfo;
      readonly durationMs: number;
    };

export interface ProbeOptions {
  /** Also tell which certificate an accepted backend presented (see below); preflight does not need it. */
  readonly describeAccepted?: boolean;
}

/** `probe` for every item, a few handshakes at a time; the results in the order given. */
export function probeAll<T, R>(items: readonly T[], probe: (item: T) => Promise<R>): Promise<R[]> {
  return mapWithConcurrency(items, PROBE_CONCURRENCY, probe);
}

export async function probeEndpoint(endpoint: TargetConfig, options: ProbeOptions = {}): Promise<Probe> {
  const startedAt = performance.now();
  const outcome = await handshake(endpoint);
  const durationMs = Math.round(performance.now() - startedAt);
  if (!outcome.ok) return { ...outcome, durationMs };
  let presented = outcome.presented;
  // Should the accepted socket no longer tell its certificate (on Node 20 a client-side
  // getPeerX509Certificate() takes the leaf out of the peer chain; the connector avoids it), a
  // second handshake, trusting nothing, reads it; a failure there changes nothing of the verdict.
  if (!presented && options.describeAccepted && endpoint.protocol === 'https:') {
    presented = await fetchPresentedChain(endpoint.hostname, endpoint.port, serverNameOf(endpoint), endpoint.timeouts.connectMs).then(
      (fetched) => fetched.chain[0],
      () => undefined,
    );
  }
  return { ok: true, ...(presented ? { presented } : {}), ...(outcome.tlsVersion ? { tlsVersion: outcome.tlsVersion } : {}), durationMs };
}

type Outcome =
  | { readonly ok: true; readonly presented?: CertificateInfo; readonly tlsVersion?: string }
  | { readonly ok: false; readonly code: BackendFailureCode; readonly error: Error; readonly presented?: CertificateInfo };

function handshake(endpoint: TargetConfig): Promise<Outcome> {
  const connectBackend = backendConnector(endpoint);
  return new Promise((resolve) => {
    connectBackend(
      {
        hostname: endpoint.hostname,
        host: endpoint.hostname,
        protocol: endpoint.protocol,
        port: String(endpoint.port),
        servername: endpoint.tls.serverName ?? null,
      } as Parameters<typeof connectBackend>[0],
      (error, socket) => {
        if (error) {
          const presented = error instanceof BackendCertificateError ? error.presented : undefined;
          resolve({ ok: false, code: classifyBackendError(error), error, ...(presented ? { presented } : {}) });
          return;
        }
        if (endpoint.protocol === 'http:') {
          socket?.destroy();
          resolve({ ok: true });
          return;
        }
        const tlsSocket = socket as TLSSocket;
        // getPeerCertificate() can be read again, unlike getPeerX509Certificate(); empty when
        // the connector's read took the leaf (above).
        const raw = tlsSocket.getPeerCertificate()?.raw as Buffer | undefined;
        const tlsVersion = tlsSocket.getProtocol();
        const accepted: Outcome = { ok: true, ...(raw ? { presented: describeCertificate(new X509Certificate(raw)) } : {}), ...(tlsVersion ? { tlsVersion } : {}) };
        void clientCertificateVerdict(tlsSocket, endpoint.timeouts.connectMs).then((refusal) => {
          tlsSocket.destroy();
          resolve(refusal ? { ok: false, code: classifyBackendError(refusal), error: refusal } : accepted);
        });
      },
    );
  });
}

/**
 * In TLS 1.3 a server checks the client's certificate (or its absence, when it requires one)
 * after the client's side of the handshake is over: a refusal comes as an alert on the first
 * read. Its acceptance shows as the session ticket it sends next. So a probe reads until one of
 * the two, or the socket ends, for at most a second (a server may send no ticket); nothing is
 * written. In TLS 1.2 the refusal already failed the handshake.
 */
async function clientCertificateVerdict(socket: TLSSocket, timeoutMs: number): Promise<Error | undefined> {
  if (socket.getProtocol() !== 'TLSv1.3') return undefined;
  return new Promise((resolve) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      socket.off('session', onSession).off('error', done).off('close', onClose);
      resolve(error);
    };
    const onSession = () => done();
    const onClose = () => done();
    const timer = setTimeout(done, Math.min(timeoutMs, 1_000));
    socket.on('session', onSession).on('error', done).on('close', onClose);
    socket.resume();
  });
}

/** The SNI the gateway sends: tls.serverName, else the URL's host unless it is an IP address (as undici does). */
function serverNameOf(endpoint: TargetConfig): string | undefined {
  return endpoint.tls.serverName ?? (isIP(endpoint.hostname) ? undefined : endpoint.hostname);
}

export interface PresentedChain {
  /** Leaf first, then each issuer the backend presented, in order. */
  readonly chain: CertificateInfo[];
  readonly tlsVersion: string | null;
  /** host:port connected to. */
  readonly address: string;
}

/**
 * Connects without trusting anything and returns the chain the backend presents. The secure
 * context has an empty trust store on purpose: with the default one, Node appends to the chain
 * it reports a root from its own store, which the backend never presented. Every TLS version
 * and cipher is offered, down to TLSv1: the connection only reads certificates and sends nothing.
 */
export function fetchPresentedChain(hostname: string, port: number, servername: string | undefined, timeoutMs: number): Promise<PresentedChain> {
  const host = bareHost(hostname);
  const secureContext = createSecureContext({ ca: [], minVersion: 'TLSv1', maxVersion: 'TLSv1.3', ciphers: effectiveCiphers('TLSv1', undefined)! });
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      ...(servername !== undefined ? { servername } : {}),
      secureContext,
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
    const timer = setTimeout(() => {
      socket.destroy(Object.assign(new Error(`no TLS handshake with ${host}:${port} within ${formatDuration(timeoutMs)}`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('error', (error: Error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const chain: CertificateInfo[] = [];
      const seen = new Set<string>();
      let current: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      // Node links each certificate to its issuer among those presented; a self-signed one is its own issuer.
      while (current?.raw !== undefined && !seen.has(current.fingerprint256)) {
        seen.add(current.fingerprint256);
        chain.push(describeCertificate(new X509Certificate(current.raw)));
        current = current.issuerCertificate === current ? undefined : current.issuerCertificate;
      }
      const tlsVersion = socket.getProtocol();
      socket.destroy();
      if (chain.length === 0) reject(new Error('the backend presented no certificate'));
      else resolve({ chain, tlsVersion, address: `${host.includes(':') ? `[${host}]` : host}:${port}` });
    });
  });
}
