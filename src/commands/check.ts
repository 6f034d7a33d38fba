// gatehouse check [-c file] [--format text|json]
// Handshakes with every endpoint (production and sandbox) exactly as the gateway's pools would
// (certs/probe.ts over snapshot/backend-tls.ts), sends nothing, and reports per endpoint: OK, or
// why not, with the certificate the backend presented and what to do. Exit 0 when every
// endpoint is OK, 1 when one is not (a pending certificate included) or the configuration is
// invalid.
import { EXIT_FAILED, EXIT_OK, configFileArg, formatArg, parseCommandArgs } from '../cli/io.js';
import type { CommandIo } from '../cli/io.js';
import { plural } from '../certs/check.js';
import { certificateLabel } from '../certs/parse.js';
import { probeEndpoint } from '../certs/probe.js';
import type { Probe } from '../certs/probe.js';
import { mapWithConcurrency } from '../concurrency.js';
import { formatDuration } from '../config/durations.js';
import { loadConfig } from '../config/load.js';
import type { CertificateInfo, EndpointConfig, EndpointRole, GatewayConfig } from '../config/types.js';
import { displayPath, formatText, hasErrors, toJson } from '../diagnostics.js';
import { errorCode } from '../proxy/errors.js';
import { BackendCertificateError, verifiedHost } from '../snapshot/backend-tls.js';

export const CHECK_USAGE = `Usage: gatehouse check [-c gateway.yaml] [--format text|json]

Connects to every endpoint (production and sandbox) exactly as the gateway does: with its
certificates, hostname verifier, tls.serverName, protocols, ciphers and connect timeout. Only the
handshake is made; no request is sent. Reports per endpoint: OK, or untrusted, expired, hostname
mismatch, protocol, unreachable, timeout, or pending (no certificate file yet), with the
certificate the backend presented (subject, issuer, notAfter) and what to do.
Exit code: 0 every endpoint OK, 1 an endpoint fails (pending included) or the configuration is
invalid, 2 usage error.

Options:
  -c, --config FILE   the configuration (default: gateway.yaml in the current folder)
  --format FORMAT     text (default) or json
`;

const FORMATS = ['text', 'json'] as const;

/** Handshakes at once: enough to check a hundred endpoints in a few round trips, not a storm. */
const CONCURRENCY = 16;

const DAY_MS = 86_400_000;

export type CheckResult = 'ok' | 'untrusted' | 'expired' | 'hostname-mismatch' | 'protocol' | 'unreachable' | 'timeout' | 'pending';

const RESULT_TEXT: Record<CheckResult, string> = {
  ok: 'OK',
  untrusted: 'untrusted',
  expired: 'expired',
  'hostname-mismatch': 'hostname mismatch',
  protocol: 'protocol',
  unreachable: 'unreachable',
  timeout: 'timeout',
  pending: 'pending',
};

export interface PresentedCertificate {
  readonly subject: string;
  readonly issuer: string;
  readonly subjectAltNames: readonly string[];
  readonly notBefore: string;
  readonly notAfter: string;
  readonly fingerprint256: string;
}

export interface EndpointCheck {
  readonly api: string;
  readonly version: string;
  readonly endpoint: EndpointRole;
  /** Where in the configuration: apis[0].endpoints.production */
  readonly path: string;
  /** The URL without user information. */
  readonly url: string;
  readonly result: CheckResult;
  /** The code the gateway would answer with (BACKEND_*, CERTIFICATE_PENDING); absent when OK. */
  readonly code?: string;
  /** OpenSSL's verification code, the socket error's code, or the pending aliases. */
  readonly reason?: string;
  /** The error as Node reported it. */
  readonly error?: string;
  readonly certificate?: PresentedCertificate;
  readonly tlsVersion?: string;
  /** What to do; for an OK endpoint, a note (an expiry within certs.warnBefore, a pending alias of a rotation list). */
  readonly hint?: string;
  readonly durationMs?: number;
}

export async function checkCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    config: { type: 'string', short: 'c', default: 'gateway.yaml' },
    format: { type: 'string', default: 'text' },
  });
  const format = formatArg(values.format, FORMATS);
  const file = configFileArg(io, values.config, positionals);
  const { config, diagnostics } = await loadConfig(file, { env: io.env });
  const name = displayPath(file, io.cwd);
  const warnings = diagnostics.filter((d) => d.severity === 'warning');

  if (!config || hasErrors(diagnostics)) {
    if (format === 'json') {
      io.stdout.write(JSON.stringify({ file: name, ok: false, valid: false, errors: diagnostics.filter((d) => d.severity === 'error').map((d) => toJson(d, io.cwd)), warnings: warnings.map((d) => toJson(d, io.cwd)), endpoints: [] }, null, 2) + '\n');
    } else {
      io.stdout.write(formatText(diagnostics, io.cwd));
      const errors = diagnostics.length - warnings.length;
      io.stdout.write(`${name}: invalid: ${plural(errors, 'error')}; no endpoint checked (\`gatehouse validate\` checks the file alone)\n`);
    }
    return EXIT_FAILED;
  }

  const checks = await checkEndpoints(config, io.cwd);
  const failing = checks.filter((c) => c.result !== 'ok').length;

  if (format === 'json') {
    io.stdout.write(
      JSON.stringify(
        {
          file: name,
          ok: failing === 0,
          valid: true,
          summary: { endpoints: checks.length, ok: checks.length - failing, failing, results: countResults(checks) },
          endpoints: checks,
          warnings: warnings.map((d) => toJson(d, io.cwd)),
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    // The configuration's warnings go to stderr: stdout is the table.
    io.stderr.write(formatText(warnings, io.cwd));
    io.stdout.write(renderTable(checks));
    io.stdout.write(`\n${summaryLine(name, checks)}\n`);
  }
  return failing === 0 ? EXIT_OK : EXIT_FAILED;
}

function endpointsOf(config: GatewayConfig) {
  return config.apis.flatMap((api) => (api.sandbox ? [api.production, api.sandbox] : [api.production]).map((endpoint) => ({ api, endpoint })));
}

/** One check per endpoint, in the order of the configuration; handshakes run a few at a time. */
export async function checkEndpoints(config: GatewayConfig, cwd: string, nowMs = Date.now()): Promise<EndpointCheck[]> {
  return mapWithConcurrency(endpointsOf(config), CONCURRENCY, async ({ api, endpoint }) => {
    const base = { api: api.name, version: api.version, endpoint: endpoint.role, path: endpoint.path, url: endpoint.origin + endpoint.basePath };
    if (isPending(endpoint)) {
      return {
        ...base,
        result: 'pending',
        code: 'CERTIFICATE_PENDING',
        reason: endpoint.pendingAliases.join(', '),
        hint: pendingHint(endpoint, config, cwd),
      } satisfies EndpointCheck;
    }
    const probe = await probeEndpoint(endpoint, { describeAccepted: true });
    return { ...base, ...describeProbe(probe, endpoint, config, cwd, nowMs) };
  });
}

/** As the gateway decides: an https endpoint none of whose aliases has a file yet has no pool. */
function isPending(endpoint: EndpointConfig): boolean {
  return endpoint.protocol === 'https:' && endpoint.certificateAliases.length > 0 && endpoint.certificates.length === 0;
}

function presentedOf(info: CertificateInfo): PresentedCertificate {
  return {
    subject: info.subject,
    issuer: info.issuer,
    subjectAltNames: info.subjectAltNames,
    notBefore: info.notBefore,
    notAfter: info.notAfter,
    fingerprint256: info.fingerprint256,
  };
}

function describeProbe(probe: Probe, endpoint: EndpointConfig, config: GatewayConfig, cwd: string, nowMs: number): Omit<EndpointCheck, 'api' | 'version' | 'endpoint' | 'path' | 'url'> {
  const certificate = probe.presented ? { certificate: presentedOf(probe.presented) } : {};
  if (probe.ok) {
    const notes = [expiryNote(probe.presented, config, nowMs), partlyPendingNote(endpoint, config, cwd)].filter((n): n is string => n !== undefined);
    return {
      result: 'ok',
      ...certificate,
      ...(probe.tlsVersion ? { tlsVersion: probe.tlsVersion } : {}),
      ...(notes.length ? { hint: notes.join('; ') } : {}),
      durationMs: probe.durationMs,
    };
  }
  const { error, presented } = probe;
  const reason = error instanceof BackendCertificateError ? error.reason : (errorCode(error) ?? undefined);
  let result: CheckResult;
  switch (probe.code) {
    case 'BACKEND_TLS_UNTRUSTED':
      // OpenSSL names the first problem it meets; an expired leaf is named "expired" even when
      // the chain is not trusted either, since that is what its owner must fix first.
      result = reason === 'CERT_HAS_EXPIRED' || (presented !== undefined && presented.notAfterMs < nowMs) ? 'expired' : 'untrusted';
      break;
    case 'BACKEND_HOSTNAME_MISMATCH':
      result = 'hostname-mismatch';
      break;
    case 'BACKEND_TIMEOUT':
      result = 'timeout';
      break;
    case 'BACKEND_UNREACHABLE':
      result = 'unreachable';
      break;
    case 'BACKEND_TLS_PROTOCOL':
    case 'BACKEND_INVALID_RESPONSE':
      result = 'protocol';
      break;
  }
  const extra = partlyPendingNote(endpoint, config, cwd);
  const hint = failureHint(result, probe.code, reason, presented, endpoint, nowMs) + (extra ? `; ${extra}` : '');
  return {
    result,
    code: probe.code,
    ...(reason ? { reason } : {}),
    error: errorText(error),
    ...certificate,
    hint,
    durationMs: probe.durationMs,
  };
}

/** One line: OpenSSL's messages carry a file position and a trailing newline; its reason is what counts. */
function errorText(error: Error): string {
  const reason = (error as { reason?: unknown }).reason;
  const text = typeof reason === 'string' && /SSL routines/.test(error.message) ? `${reason} (${errorCode(error) ?? 'TLS error'})` : error.message;
  return text.replace(/\s+/g, ' ').trim();
}

// ------------------------------------------------------------------ hints

const VERIFY_REASONS: Record<string, string> = {
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'is issued by a CA this endpoint does not trust',
  UNABLE_TO_GET_ISSUER_CERT: 'is issued by a CA this endpoint does not trust',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'is issued by a CA this endpoint does not trust',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'is self-signed and not one this endpoint trusts',
  SELF_SIGNED_CERT_IN_CHAIN: 'chains to a self-signed root this endpoint does not trust',
  CERT_NOT_YET_VALID: 'is not valid yet',
  CERT_SIGNATURE_FAILURE: 'has a signature that does not verify',
  CERT_UNTRUSTED: 'is not trusted for server authentication',
  INVALID_PURPOSE: 'is not meant for server authentication',
};

function quoteArg(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

function fetchCommand(endpoint: EndpointConfig, alias: string): string {
  const servername = endpoint.tls.serverName ? ` --servername ${quoteArg(endpoint.tls.serverName)}` : '';
  return `gatehouse cert fetch ${quoteArg(endpoint.origin)} --alias ${quoteArg(alias)}${servername}`;
}

function trustedText(endpoint: EndpointConfig): string {
  if (endpoint.certificateAliases.length === 0) return 'the system roots';
  const own = `certificate ${endpoint.certificateAliases.join(', ')}`;
  return endpoint.tls.trustSystemCAs ? `${own} and the system roots` : own;
}

function dateOf(iso: string): string {
  return iso.slice(0, 10);
}

function failureHint(result: CheckResult, code: string, reason: string | undefined, presented: CertificateInfo | undefined, endpoint: EndpointConfig, nowMs: number): string {
  const host = verifiedHost(endpoint);
  const target = `${endpoint.hostname.includes(':') ? `[${endpoint.hostname}]` : endpoint.hostname}:${endpoint.port}`;
  const label = presented ? `"${certificateLabel(presented)}" (issuer "${presented.issuer}")` : 'its certificate';
  switch (result) {
    case 'expired': {
      if (presented && presented.notAfterMs < nowMs) {
        const days = Math.floor((nowMs - presented.notAfterMs) / DAY_MS);
        const alsoUntrusted = reason && reason !== 'CERT_HAS_EXPIRED' ? `; it is not trusted by this endpoint either (${reason})` : '';
        return `the backend presents ${label}, which expired on ${dateOf(presented.notAfter)} (${plural(days, 'day')} ago): its owner must renew it; no trust setting makes an expired certificate acceptable${alsoUntrusted}`;
      }
      return `a certificate of the chain the backend presents has expired (CERT_HAS_EXPIRED), though its leaf ${label} has not: the backend must present a current intermediate; no trust setting makes an expired certificate acceptable`;
    }
    case 'untrusted': {
      const why = (reason !== undefined ? VERIFY_REASONS[reason] : undefined) ?? `fails verification (${reason ?? 'unknown reason'})`;
      const when = reason === 'CERT_NOT_YET_VALID' && presented ? ` until ${dateOf(presented.notBefore)}` : '';
      const add = endpoint.certificateAliases.length
        ? `add NAME to this endpoint's certificate list (a list trusts old and new during a rotation)`
        : `set this endpoint's certificate to NAME`;
      return `the backend presents ${label}, which ${why}${when}; this endpoint trusts ${trustedText(endpoint)}. If it is the right certificate, capture it with \`${fetchCommand(endpoint, 'NAME')}\` (compare its fingerprint with its owner's) and ${add}`;
    }
    case 'hostname-mismatch': {
      const names = presented ? presented.subjectAltNames.join(', ') || presented.subject || 'no name' : 'no name';
      const via = endpoint.tls.serverName ? 'tls.serverName' : 'the URL';
      return `the backend presents ${label}, which names ${names} but not "${host}" (from ${via}), which the ${endpoint.tls.hostnameVerifier} hostname verifier checks; set tls.serverName to one of its names, have it reissued with "${host}" in its SANs, or use hostnameVerifier AllowAll`;
    }
    case 'protocol': {
      const ciphers = endpoint.tls.ciphers ? ` and ciphers "${endpoint.tls.ciphers}"` : '';
      return `no TLS version or cipher in common with the backend (this endpoint allows ${endpoint.tls.protocols.join(', ')}${ciphers}): widen tls.protocols or tls.ciphers, or upgrade the backend; if ${target} speaks plain HTTP, the URL must start with http://`;
    }
    case 'unreachable': {
      const unresolved = reason === 'ENOTFOUND' || reason === 'EAI_AGAIN';
      return unresolved
        ? `the host name "${endpoint.hostname}" does not resolve (${reason}): check the URL and DNS`
        : `nothing accepted a connection at ${target}${reason ? ` (${reason})` : ''}: check the URL's host and port, that the backend runs, and firewalls`;
    }
    case 'timeout': {
      const what = endpoint.protocol === 'https:' ? 'connection and TLS handshake' : 'connection';
      return `no ${what} within timeouts.connect (${formatDuration(endpoint.timeouts.connectMs)}) at ${target}: check that the backend is reachable from here and speaks TLS on that port, or raise timeouts.connect`;
    }
    default:
      return code;
  }
}

function certsFolder(config: GatewayConfig, cwd: string): string {
  return displayPath(config.certs.directory, cwd).replace(/\/?$/, '/');
}

function pendingHint(endpoint: EndpointConfig, config: GatewayConfig, cwd: string): string {
  const aliases = endpoint.pendingAliases;
  const files = aliases.map((a) => `${a}.crt`).join(', ');
  return `no file for certificate alias${aliases.length > 1 ? 'es' : ''} ${aliases.map((a) => `"${a}"`).join(', ')} in ${certsFolder(config, cwd)} yet: this endpoint answers 503 CERTIFICATE_PENDING until one appears. Drop ${files} there, or capture it with \`${fetchCommand(endpoint, aliases[0]!)}\``;
}

function partlyPendingNote(endpoint: EndpointConfig, config: GatewayConfig, cwd: string): string | undefined {
  if (endpoint.pendingAliases.length === 0 || isPending(endpoint)) return undefined;
  const aliases = endpoint.pendingAliases.map((a) => `"${a}"`).join(', ');
  return `certificate alias ${aliases} has no file in ${certsFolder(config, cwd)} yet (the other aliases are trusted meanwhile)`;
}

function expiryNote(presented: CertificateInfo | undefined, config: GatewayConfig, nowMs: number): string | undefined {
  if (!presented) return undefined;
  const leftMs = presented.notAfterMs - nowMs;
  if (leftMs > config.certs.warnBeforeMs) return undefined;
  return `the backend's certificate expires on ${dateOf(presented.notAfter)}, in ${plural(Math.max(0, Math.floor(leftMs / DAY_MS)), 'day')} (within certs.warnBefore, ${formatDuration(config.certs.warnBeforeMs)}): have it renewed`;
}

// ------------------------------------------------------------------ text

function countResults(checks: readonly EndpointCheck[]): Partial<Record<CheckResult, number>> {
  const counts: Partial<Record<CheckResult, number>> = {};
  for (const c of checks) counts[c.result] = (counts[c.result] ?? 0) + 1;
  return counts;
}

function renderTable(checks: readonly EndpointCheck[]): string {
  const header = ['API', 'VERSION', 'ENDPOINT', 'URL', 'RESULT'];
  const rows = checks.map((c) => [c.api, c.version, c.endpoint, c.url, RESULT_TEXT[c.result]]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
  let out = line(header) + '\n';
  checks.forEach((check, i) => {
    out += line(rows[i]!) + '\n';
    for (const [key, value] of details(check)) out += `    ${key.padEnd(11)}  ${value}\n`;
  });
  return out;
}

function details(check: EndpointCheck): [string, string][] {
  const out: [string, string][] = [];
  const c = check.certificate;
  if (c) {
    const version = check.tlsVersion ? `, ${check.tlsVersion}` : '';
    out.push(['certificate', `${c.subject || c.subjectAltNames.join(', ')}, issuer ${c.issuer}, notAfter ${c.notAfter}${version}`]);
  } else if (check.result === 'ok' && check.url.startsWith('http:')) {
    out.push(['certificate', 'none: plain HTTP (a TCP connection was made)']);
  }
  if (check.result !== 'ok' && check.result !== 'pending' && check.error) out.push(['error', check.error]);
  if (check.hint) out.push([check.result === 'ok' ? 'note' : 'hint', check.hint]);
  return out;
}

function summaryLine(name: string, checks: readonly EndpointCheck[]): string {
  const ok = checks.filter((c) => c.result === 'ok').length;
  const failing = checks.length - ok;
  const counts = countResults(checks);
  const failures = (Object.keys(RESULT_TEXT) as CheckResult[])
    .filter((r) => r !== 'ok' && counts[r])
    .map((r) => `${counts[r]} ${RESULT_TEXT[r]}`)
    .join(', ');
  return `${name}: ${plural(checks.length, 'endpoint')}: ${ok} OK${failing ? `, ${failing} failing (${failures})` : ''}`;
}
