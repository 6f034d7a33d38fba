// Preflight (reload.preflight): before a new configuration goes live, connect to each target
// whose connection settings changed (a new pool: new trust, TLS settings, origin or timeouts)
// with exactly those settings (backend/probe.ts, as `gatehouse check` does), and report which
// handshakes fail, with the same explanation as check and the log line of a failed request.
import { explainFailure } from '../backend/explain.js';
import type { BackendFailureCode } from '../backend/failure.js';
import { probeAll, probeEndpoint } from '../backend/probe.js';
import type { TargetRuntime } from '../snapshot/snapshot.js';

export interface PreflightFailure {
  readonly target: TargetRuntime;
  readonly code: BackendFailureCode;
  /** What happened and what to do (backend/explain.ts). */
  readonly hint: string;
}

export async function preflight(endpoints: readonly TargetRuntime[], nowMs = Date.now()): Promise<PreflightFailure[]> {
  const results = await probeAll(endpoints, async (endpoint): Promise<PreflightFailure | undefined> => {
    const probe = await probeEndpoint(endpoint.config);
    return probe.ok ? undefined : { target: endpoint, code: probe.code, hint: explainFailure(probe, endpoint.config, nowMs).hint };
  });
  return results.filter((failure): failure is PreflightFailure => failure !== undefined);
}
