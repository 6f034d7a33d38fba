// Preflight (reload.preflight): before a new configuration goes live, connect to each endpoint
// whose connection settings changed (a new pool: new trust, TLS settings, origin or timeouts)
// with exactly those settings (certs/probe.ts, as `gatehouse check` does), and report which
// handshakes fail and why.
import { probeEndpoint } from '../certs/probe.js';
import { mapWithConcurrency } from '../concurrency.js';
import type { BackendFailureCode } from '../proxy/errors.js';
import type { EndpointRuntime } from '../snapshot/snapshot.js';

export interface PreflightFailure {
  readonly endpoint: EndpointRuntime;
  readonly code: BackendFailureCode;
  readonly reason: string;
}

/** At most this many handshakes at once: a reload of a thousand endpoints must not storm the network. */
const CONCURRENCY = 16;

export async function handshake(endpoint: EndpointRuntime): Promise<PreflightFailure | undefined> {
  const probe = await probeEndpoint(endpoint.config);
  return probe.ok ? undefined : { endpoint, code: probe.code, reason: probe.error.message };
}

export async function preflight(endpoints: readonly EndpointRuntime[]): Promise<PreflightFailure[]> {
  const results = await mapWithConcurrency(endpoints, CONCURRENCY, handshake);
  return results.filter((failure): failure is PreflightFailure => failure !== undefined);
}
