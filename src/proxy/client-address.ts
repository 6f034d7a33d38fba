// Who the client is (issue 6, listen.trustedProxies). A peer in the list is a proxy: the client is
// the rightmost X-Forwarded-For address that is not itself a trusted proxy (what nginx's
// real_ip_recursive and Traefik's trustedIPs do). Any other peer is the client, whatever its
// X-Forwarded-For says. The list is built once per snapshot (a net.BlockList).
import { BlockList, isIP } from 'node:net';

const CIDR = /^([^/]+)(?:\/(\d{1,3}))?$/;

/** One entry ("10.0.0.0/8", "192.168.1.10", "fd00::/8") → its parts, or why it is not one. */
export function parseProxyEntry(entry: string): { address: string; prefix: number | undefined; family: 'ipv4' | 'ipv6' } | { error: string } {
  const match = CIDR.exec(entry.trim());
  const family = match ? isIP(match[1]!) : 0;
  if (!match || family === 0) return { error: `"${entry}" is not an IP address or a CIDR range (write 10.0.0.0/8, 192.168.1.10 or fd00::/8)` };
  const prefix = match[2] === undefined ? undefined : Number(match[2]);
  const max = family === 4 ? 32 : 128;
  if (prefix !== undefined && prefix > max) return { error: `"${entry}": the prefix length must be 0 to ${max}` };
  return { address: match[1]!, prefix, family: family === 4 ? 'ipv4' : 'ipv6' };
}

/** The trusted proxies as a BlockList, or undefined when there are none (the common case costs nothing). */
export function trustedProxyList(entries: readonly string[]): BlockList | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const entry of entries) {
    const parsed = parseProxyEntry(entry);
    if ('error' in parsed) throw new Error(parsed.error); // validated when the configuration loaded
    if (parsed.prefix === undefined) list.addAddress(parsed.address, parsed.family);
    else list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return list;
}

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
