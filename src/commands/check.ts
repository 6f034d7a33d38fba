// gatehouse check [-c file] [--format text|json]
// Handshakes with every endpoint (production and sandbox) exactly as the gateway's pools would
// (certs/probe.ts over snapshot/backend-tls.ts), sends nothing, and reports per endpoint: OK, or
// why not, with the certificate the backend presented and what to do. Exit 0 when every
// endpoint is OK, 1 when one is not (a pending certificate included) or the configuration is
// invalid.
import { EXIT_FAILED, EXIT_OK, configFileArg, formatArg, parseCommandArgs } from '../cli/io.js';
import type { CommandIo } from '../cli/io.js';
import { errorText, explainFailure, explainPending, misspelt, presentedFields } from '../backend/explain.js';
import type { FailureKind } from '../backend/explain.js';
import { probeAll, probeEndpoint } from '../backend/probe.js';
import type { Probe } from '../backend/probe.js';
import { expiryState } from '../certs/expiry.js';
import type { CertificateInfo } from '../certs/types.js';
import { formatDuration } from '../config/durations.js';
import { loadConfig } from '../config/load.js';
import type { TargetConfig, EndpointRole, GatewayConfig } from '../config/types.js';
import { targetsOf, isPending } from '../config/usage.js';
import { displayPath, formatText, hasErrors, toJson } from '../diagnostics.js';
import { plural } from '../text.js';
import { dateOf } from '../time.js';

export const CHECK_USAGE = `Usage: gatehouse check [-c gateway.yaml] [--format text|json]

Connects to every endpoint (production and sandbox) exactly as the gateway does: with its
certificates, hostname verifier, tls.serverName, protocols, ciphers and connect timeout. Only the
handshake is made; no request is sent. Reports per endpoint: OK, or untrusted, expired, hostname
mismatch, protocol, unreachable, timeout, or pending (no certificate file yet), with the
certificate the backend presented (subject, issuer, notAfter) and what to do.
Exit code: 0 every endpoint OK, 1 an endpoint fails (pending included) or the configuration is
invalid, 2 usage error.

Options:
  -c, --config FILE   the configuration (default: $GATEHOUSE_CONFIG, else gateway.yaml here)
  --format FORMAT     text (default) or json
`;

const FORMATS = ['text', 'json'] as const;

export type CheckResult = 'ok' | FailureKind | 'pending';

const RESULT_TEXT: Record<CheckResult, string> = {
  ok: 'OK',
  untrusted: 'untrusted',
  expired: 'expired',
  'hostname-mismatch': 'hostname mismatch',
  protocol: 'protocol',
  'client-certificate': 'client certificate refused',
  unreachable: 'unreachable',
  timeout: 'timeout',
  pending: 'pending',
};

export type PresentedCertificate = ReturnType<typeof presentedFields>;

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
    config: { type: 'string', short: 'c' },
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

/** One check per endpoint, in the order of the configuration; handshakes run a few at a time. */
export async function checkEndpoints(config: GatewayConfig, cwd: string, nowMs = Date.now()): Promise<EndpointCheck[]> {
  const folder = `${displayPath(config.certs.directory, cwd).replace(/\/$/, '')}/`;
  const known = config.inventory.map((f) => f.alias);
  return probeAll(targetsOf(config), async (endpoint) => {
    const base = { api: endpoint.api.name, version: endpoint.api.version, endpoint: endpoint.role, path: endpoint.path, url: endpoint.origin + endpoint.basePath };
    if (isPending(endpoint)) {
      return { ...base, result: 'pending', code: 'CERTIFICATE_PENDING', reason: endpoint.pendingAliases.join(', '), hint: explainPending(endpoint, folder, known) } satisfies EndpointCheck;
    }
    const probe = await probeEndpoint(endpoint, { describeAccepted: true });
    return { ...base, ...describeProbe(probe, endpoint, config, folder, known, nowMs) };
  });
}

function describeProbe(probe: Probe, endpoint: TargetConfig, config: GatewayConfig, folder: string, known: readonly string[], nowMs: number): Omit<EndpointCheck, 'api' | 'version' | 'endpoint' | 'path' | 'url'> {
  const certificate = probe.presented ? { certificate: presentedFields(probe.presented) } : {};
  const partly = partlyPendingNote(endpoint, folder, known);
  if (probe.ok) {
    const notes = [expiryNote(probe.presented, config, nowMs), partly].filter((n): n is string => n !== undefined);
    return {
      result: 'ok',
      ...certificate,
      ...(probe.tlsVersion ? { tlsVersion: probe.tlsVersion } : {}),
      ...(notes.length ? { hint: notes.join('; ') } : {}),
      durationMs: probe.durationMs,
    };
  }
  const explanation = explainFailure(probe, endpoint, nowMs);
  return {
    result: explanation.kind,
    code: probe.code,
    ...(explanation.reason ? { reason: explanation.reason } : {}),
    error: errorText(probe.error),
    ...certificate,
    hint: explanation.hint + (partly ? `; ${partly}` : ''),
    durationMs: probe.durationMs,
  };
}

function partlyPendingNote(endpoint: TargetConfig, folder: string, known: readonly string[]): string | undefined {
  if (endpoint.pendingAliases.length === 0 || isPending(endpoint)) return undefined;
  const aliases = endpoint.pendingAliases.map((a) => `"${a}"`).join(', ');
  return `certificate alias ${aliases} has no file in ${folder} yet${misspelt(endpoint, known)} (the other aliases are trusted meanwhile)`;
}

function expiryNote(presented: CertificateInfo | undefined, config: GatewayConfig, nowMs: number): string | undefined {
  const state = presented && expiryState(presented, nowMs, config.certs.warnBeforeMs);
  if (state?.state !== 'expiring') return undefined;
  return `the backend's certificate expires on ${dateOf(presented!.notAfter)}, in ${plural(state.daysLeft, 'day')} (within certs.warnBefore, ${formatDuration(config.certs.warnBeforeMs)}): have it renewed`;
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
