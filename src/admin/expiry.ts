// Expiry warnings (issue 5, SPEC §5): at every load and once a day, one log line per certificate in
// use that expires within certs.warnBefore (warn) or has expired (error), naming who uses it. A
// gateway that runs for months without a reload still says, every day, what is about to break.
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { certificatesInUse } from './metrics.js';

const DAY_MS = 86_400_000;

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
      daysLeft: Math.floor(leftMs / DAY_MS),
      usedBy: certificate.usedBy,
    });
  }
  return out;
}

export function logExpiry(config: GatewayConfig, logger: Logger, nowMs = Date.now()): void {
  for (const { level, ...finding } of expiryFindings(config, nowMs)) {
    const message =
      level === 'error'
        ? `certificate "${finding.alias}" (${finding.subject}) expired on ${finding.notAfter}; renew it and drop it into the certificates folder`
        : `certificate "${finding.alias}" (${finding.subject}) expires on ${finding.notAfter}, in ${finding.daysLeft} days; renew it before then`;
    logger[level](finding, message);
  }
}

/** Logs the findings of the configuration served now, every `intervalMs` (a day). */
export function startDailyExpiryCheck(config: () => GatewayConfig, logger: Logger, intervalMs = DAY_MS): () => void {
  const timer = setInterval(() => logExpiry(config(), logger), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
