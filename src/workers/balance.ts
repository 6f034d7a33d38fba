// How connections are spread over the workers. Two ways, both in the kernel's or Node's hands:
// - cluster (the default): node:cluster's round robin. The primary accepts every connection and
//   passes it to the next worker over IPC: even spread, one extra hop per connection (not per
//   request: connections are kept alive).
// - reuseport: each worker binds its own socket with SO_REUSEPORT and the kernel hashes each new
//   connection to one of them: no hop through the primary, but the spread follows the hash of
//   the clients' addresses and ports, and a busy worker keeps getting its share. Node has it from
//   22.12 and 23.1 (server.listen's reusePort), on Linux and FreeBSD, for ports other than 0.
// bench/README.md ("Workers") has the measurements behind the default.
import type { GatewayConfig } from '../config/types.js';

export type Balancing = 'cluster' | 'reuseport';

/** The variable that asks for a way of spreading connections: cluster or reuseport. */
export const BALANCING_VARIABLE = 'GATEHOUSE_WORKER_BALANCING';

/** Whether this Node.js has server.listen({ reusePort }) on this system. */
export function reusePortAvailable(version = process.versions.node, platform = process.platform): boolean {
  if (platform !== 'linux' && platform !== 'freebsd') return false;
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/** reuseport when asked for and possible (every client port fixed), else cluster, with why not. */
export function balancingFor(config: GatewayConfig, env: Readonly<Record<string, string | undefined>>): { readonly balancing: Balancing; readonly fallback?: string } {
  const asked = env[BALANCING_VARIABLE];
  if (asked === undefined || asked === '' || asked === 'cluster') return { balancing: 'cluster' };
  if (asked !== 'reuseport') return { balancing: 'cluster', fallback: `${BALANCING_VARIABLE} must be cluster or reuseport (got "${asked}")` };
  if (!reusePortAvailable()) return { balancing: 'cluster', fallback: `reuseport needs Node.js 22.12 or later (this is ${process.versions.node}) on Linux or FreeBSD` };
  const ports = [config.listen.http.port, ...(config.listen.https ? [config.listen.https.address.port] : [])];
  if (ports.includes(0)) return { balancing: 'cluster', fallback: 'reuseport needs fixed ports: with port 0 each worker would get a port of its own' };
  return { balancing: 'reuseport' };
}
