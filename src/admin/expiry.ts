// Expiry warnings (docs/operations.md): at every load and once a day, one log line per certificate
// in use that expires within certs.warnBefore (warn) or has expired (error), naming who uses it. A
// gateway that runs for months without a reload still says, every day, what is about to break.
import { certificatesInUse } from '../config/usage.js';
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { SnapshotHolder } from '../snapshot/holder.js';
import { DAY_MS, daysLeft } from '../time.js';

export interface ExpiryFinding {
  readonly level: 'warn' | 'error';
  readonly alias: string;
  readonly subject: string;
  readonly fingerprint: string;
  readonly notAfter: string;
  /** Negative once expired. */
  readonly daysLeft: number;
  readonly usedBy: readonly string[];
}

export function expiryFindings(config: GatewayConfig, nowMs: number): ExpiryFinding[] {
  const out: ExpiryFinding[] = [];
  for (const certificate of certificatesInUse(config)) {
    const leftMs = certificate.notAfterMs - nowMs;
    if (leftMs > config.certs.warnBeforeMs) continue;
    out.push({
      level: leftMs <= 0 ? 'error' : 'warn',
      alias: certificate.alias,
      subject: certificate.subject,
      fingerprint: certificate.fingerprint256,
      notAfter: new Date(certificate.notAfterMs).toISOString(),
      daysLeft: daysLeft(certificate.notAfterMs, nowMs),
      usedBy: certificate.usedBy,
    });
  }
  return out;
}

export function logExpiry(config: GatewayConfig, logger: Logger, nowMs = Date.now()): void {
  for (const { level, ...finding } of expiryFindings(config, nowMs)) {
    const message =
      level === 'error'
        ? `certificate "${finding.alias}" (${finding.subject}) expired on ${finding.notAfter}: handshakes that need it fail; renew it and drop it into the certificates folder`
        : `certificate "${finding.alias}" (${finding.subject}) expires on ${finding.notAfter}, in ${finding.daysLeft} days; renew it before then`;
    logger[level](finding, message);
  }
}

/**
 * Expiry lines for the configuration served: now, after every swap, and every `intervalMs` (a
 * day). Returns the function that stops it.
 */
export function watchExpiry(holder: SnapshotHolder, logger: Logger, intervalMs = DAY_MS): () => void {
  logExpiry(holder.current.config, logger);
  const onSwap = () => logExpiry(holder.current.config, logger);
  holder.on('swapped', onSwap);
  const timer = setInterval(onSwap, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    holder.off('swapped', onSwap);
  };
}
