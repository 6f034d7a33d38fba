// Where a certificate stands in time: valid, expiring within certs.warnBefore, expired, or not
// valid yet. One rule for validate, the expiry log lines, cert list and check.
import { DAY_MS, daysLeft, daysSince } from '../time.js';
import type { CertificateInfo } from './types.js';

export type ExpiryState =
  | { readonly state: 'valid'; readonly daysLeft: number }
  | { readonly state: 'expiring'; readonly daysLeft: number }
  | { readonly state: 'expired'; readonly daysAgo: number }
  | { readonly state: 'not-yet-valid'; readonly daysUntil: number };

export function expiryState(info: CertificateInfo, nowMs: number, warnBeforeMs: number): ExpiryState {
  const notBeforeMs = Date.parse(info.notBefore);
  if (nowMs > info.notAfterMs) return { state: 'expired', daysAgo: daysSince(info.notAfterMs, nowMs) };
  if (nowMs < notBeforeMs) return { state: 'not-yet-valid', daysUntil: Math.ceil((notBeforeMs - nowMs) / DAY_MS) };
  const left = daysLeft(info.notAfterMs, nowMs);
  return info.notAfterMs - nowMs <= warnBeforeMs ? { state: 'expiring', daysLeft: left } : { state: 'valid', daysLeft: left };
}
