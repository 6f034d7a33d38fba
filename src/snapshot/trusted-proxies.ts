// listen.trustedProxies as a net.BlockList, built once per snapshot: the request path only asks it.
import { BlockList } from 'node:net';
import { parseProxyEntry } from '../config/address.js';

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
