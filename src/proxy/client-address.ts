// Who the client is (listen.trustedProxies, docs/http.md). A peer in the list is a proxy: the
// client is the rightmost X-Forwarded-For address that is not itself a trusted proxy (what nginx's
// real_ip_recursive and Traefik's trustedIPs do). Any other peer is the client, whatever its
// X-Forwarded-For says. The list is built once per snapshot (snapshot/trusted-proxies.ts).
import { isIP } from 'node:net';
import type { BlockList } from 'node:net';

function isTrusted(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The client's address: the peer's, unless the peer is a trusted proxy; then the rightmost
 * X-Forwarded-For entry that is not a trusted proxy (the proxies' own chain is skipped). An entry
 * that is not an IP address stops the walk at the last trusted hop. `peer` is already without
 * the ::ffff: prefix.
 */
export function clientAddress(peer: string, forwardedFor: string | string[] | undefined, trusted: BlockList | undefined): string {
  if (!trusted || forwardedFor === undefined || !isTrusted(trusted, peer)) return peer;
  const hops = (typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',')).split(',');
  let last = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.trim();
    if (isIP(hop) === 0) return last; // garbage in the chain: nothing beyond the last trusted hop is believed
    if (!isTrusted(trusted, hop)) return hop;
    last = hop;
  }
  return last;
}

/** Whether the peer is a trusted proxy, whose X-Forwarded-Proto/-Host are passed on. */
export function isTrustedProxy(peer: string, trusted: BlockList | undefined): boolean {
  return trusted !== undefined && isTrusted(trusted, peer);
}
