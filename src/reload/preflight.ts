// Preflight (reload.preflight): before a new configuration goes live, connect to each endpoint
// whose connection settings changed (a new pool: new trust, TLS settings, origin or timeouts)
// with exactly those settings, and report which handshakes fail and why.
import type { TLSSocket } from 'node:tls';
import { mapWithConcurrency } from '../concurrency.js';
import { classifyBackendError } from '../proxy/errors.js';
import type { BackendFailureCode } from '../proxy/errors.js';
import { backendConnector } from '../snapshot/backend-tls.js';
import type { EndpointRuntime } from '../snapshot/snapshot.js';

export interface PreflightFailure {
  readonly endpoint: EndpointRuntime;
  readonly code: BackendFailureCode;
  readonly reason: string;
}

/** At most this many handshakes at once: a reload of a thousand endpoints must not storm the network. */
const CONCURRENCY = 16;

export function handshake(endpoint: EndpointRuntime): Promise<PreflightFailure | undefined> {
  const { config } = endpoint;
  const connect = backendConnector(config);
  return new Promise((resolve) => {
    connect(
      { hostname: config.hostname, host: config.hostname, protocol: config.protocol, port: String(config.port), servername: config.tls.serverName ?? null } as Parameters<typeof connect>[0],
      (error, socket) => {
        if (socket) (socket as TLSSocket).destroy();
        resolve(error ? { endpoint, code: classifyBackendError(error), reason: error.message } : undefined);
      },
    );
  });
}

export async function preflight(endpoints: readonly EndpointRuntime[]): Promise<PreflightFailure[]> {
  const results = await mapWithConcurrency(endpoints, CONCURRENCY, handshake);
  return results.filter((failure): failure is PreflightFailure => failure !== undefined);
}
