// Listen addresses as written ("0.0.0.0:8280", "[::1]:9901", "localhost:8080", or a port alone:
// all interfaces).
import { isIP } from 'node:net';
import type { DocumentAddress, ListenAddress } from './types.js';

const HOST_PORT = /^(?:(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]*)):)?([0-9]{1,5})$/;

/** The address, or undefined when the port is out of range (the schema checked the form). */
export function parseAddress(value: DocumentAddress): ListenAddress | undefined {
  if (typeof value === 'number') return value >= 0 && value <= 65535 ? { host: '', port: value } : undefined;
  const match = HOST_PORT.exec(value);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { host: match[1] ?? match[2] ?? '', port };
}

const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::', '[::]']);

export function isWildcardHost(host: string): boolean {
  return WILDCARD_HOSTS.has(host);
}

/** 127.0.0.0/8, ::1 and localhost: reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

export function formatAddress(address: ListenAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host || '0.0.0.0';
  return `${host}:${address.port}`;
}

/** Two listeners would fight for the same socket (port 0 always gets a fresh port). */
export function addressesOverlap(a: ListenAddress, b: ListenAddress): boolean {
  if (a.port === 0 || a.port !== b.port) return false;
  return a.host === b.host || isWildcardHost(a.host) || isWildcardHost(b.host);
}

// listen.trustedProxies entries: an address, or a range in CIDR notation.
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
