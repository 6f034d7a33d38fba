// What starting a gateway has in common, with one process or with workers: the configuration
// loaded once, its warnings logged, and the failures of a start (a listener that cannot bind, an
// access log file that cannot be opened) turned into diagnostics on the line that caused them.
import type { AddressInfo } from 'node:net';
import { locateInConfig, loadConfig } from './config/load.js';
import type { Environment } from './config/interpolate.js';
import { toPointer } from './config/source-map.js';
import type { GatewayConfig } from './config/types.js';
import { formatDiagnostic, hasErrors } from './diagnostics.js';
import type { Diagnostic } from './diagnostics.js';
import type { Logger } from './log.js';

/** Certificate expiry codes: logged by the expiry lines with the certificate's details instead. */
export const EXPIRY_CODES: ReadonlySet<string> = new Set(['CERT_EXPIRING', 'CERT_EXPIRED']);

/** The configuration to start with, its warnings logged; undefined config when it has errors. */
export async function loadForStart(configPath: string, env: Environment, logger: Logger): Promise<{ config: GatewayConfig | undefined; diagnostics: readonly Diagnostic[] }> {
  const { config, diagnostics } = await loadConfig(configPath, { env });
  if (!config || hasErrors(diagnostics)) return { config: undefined, diagnostics };
  for (const d of diagnostics) if (!EXPIRY_CODES.has(d.code)) logger.warn({ code: d.code, file: d.file, line: d.line, path: d.path }, formatDiagnostic(d));
  return { config, diagnostics };
}

/** An access log file that cannot be opened, on the line of accessLog.destination. */
export async function accessLogDiagnostic(file: string, message: string): Promise<Diagnostic> {
  const position = await locateInConfig(file, '/accessLog/destination');
  return { severity: 'error', code: 'ACCESS_LOG_FAILED', file, ...position, path: 'accessLog.destination', message };
}

/** A listener that cannot bind, as a diagnostic on the line of its address (or on the file, for a default). */
export async function listenDiagnostic(file: string, key: string, message: string): Promise<Diagnostic> {
  const position = await locateInConfig(file, toPointer(key.split('.')));
  return { severity: 'error', code: 'LISTEN_FAILED', file, ...position, path: key, message };
}

export function urlOf(scheme: string, address: Pick<AddressInfo, 'address' | 'family' | 'port'>): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}

/**
 * The line that says the gateway serves: once everything runs, the watch included, so that what
 * follows it is served and seen. `extra` is what the primary adds (its workers, how they balance).
 */
export function logListening(
  logger: Logger,
  config: GatewayConfig,
  generation: number,
  addresses: { readonly http: Pick<AddressInfo, 'address' | 'family' | 'port'>; readonly https: Pick<AddressInfo, 'address' | 'family' | 'port'> | undefined; readonly admin: AddressInfo },
  extra: Record<string, unknown> = {},
): void {
  logger.info(
    {
      generation,
      revision: config.revision,
      http: urlOf('http', addresses.http),
      ...(addresses.https ? { https: urlOf('https', addresses.https) } : {}),
      admin: urlOf('http', addresses.admin),
      apis: config.apis.length,
      ...extra,
    },
    'gateway listening',
  );
  logger.flush();
}
