// gatehouse validate [-c file] [--format text|json|github] [--strict]
// Runs the same pipeline as start-up and reload, without opening anything. Exit 0 when valid
// (warnings allowed, unless --strict), 1 with every error otherwise: fit for CI and pre-commit
// hooks.
import { EXIT_FAILED, EXIT_OK, configFileArg, formatArg, parseCommandArgs } from '../cli/io.js';
import type { CommandIo } from '../cli/io.js';
import { loadConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import { displayPath, errorsAndWarnings, formatGithub, formatText, hasErrors } from '../diagnostics.js';
import type { Diagnostic } from '../diagnostics.js';
import { targetsOf } from '../config/usage.js';
import { plural } from '../text.js';

export const VALIDATE_USAGE = `Usage: gatehouse validate [-c gateway.yaml] [--format text|json|github] [--strict]

Checks the configuration and the certificates it references, exactly as start-up and reload do.
Exit code: 0 valid (warnings are printed but do not fail), 1 invalid (or, with --strict, a
warning), 2 usage error.

Options:
  -c, --config FILE   the configuration (default: $GATEHOUSE_CONFIG, else gateway.yaml here)
  --format FORMAT     text (default), json, or github (workflow annotations)
  --strict            warnings fail too (exit 1): for CI, where a misspelt certificate alias
                      (CERT_PENDING) or a certificate that cannot match its host
                      (CERT_HOSTNAME) must not reach production
`;

const FORMATS = ['text', 'json', 'github'] as const;

export async function validateCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    config: { type: 'string', short: 'c' },
    format: { type: 'string', default: 'text' },
    strict: { type: 'boolean', default: false },
  });
  const format = formatArg(values.format, FORMATS);
  const file = configFileArg(io, values.config, positionals);
  const { config, diagnostics } = await loadConfig(file, { env: io.env });
  const invalid = hasErrors(diagnostics);
  const failedStrict = values.strict && !invalid && diagnostics.length > 0;

  if (format === 'json') {
    io.stdout.write(
      JSON.stringify(
        {
          file: displayPath(file, io.cwd),
          valid: !invalid,
          ...(values.strict ? { strict: true, ok: !invalid && !failedStrict } : {}),
          ...errorsAndWarnings(diagnostics, io.cwd),
          ...(config ? { summary: summarize(config) } : {}),
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    io.stdout.write(format === 'github' ? formatGithub(diagnostics, io.cwd) : formatText(diagnostics, io.cwd));
    io.stdout.write(summaryLine(file, config, diagnostics, io.cwd) + (failedStrict ? ' (--strict: warnings fail)' : '') + '\n');
  }
  return invalid || failedStrict ? EXIT_FAILED : EXIT_OK;
}

function summarize(config: GatewayConfig) {
  const endpoints = targetsOf(config);
  const aliases = new Set(endpoints.flatMap((e) => e.certificateAliases));
  const pending = new Set(endpoints.flatMap((e) => e.pendingAliases));
  return { apis: config.apis.length, endpoints: endpoints.length, certificates: aliases.size, pendingCertificates: pending.size, revision: config.revision };
}

function summaryLine(file: string, config: GatewayConfig | undefined, diagnostics: readonly Diagnostic[], cwd: string): string {
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  const name = displayPath(file, cwd);
  if (!config) return `${name}: invalid: ${plural(errors, 'error')}${warnings ? `, ${plural(warnings, 'warning')}` : ''}`;
  const s = summarize(config);
  const pending = s.pendingCertificates ? ` (${s.pendingCertificates} pending)` : '';
  return `${name}: valid: ${plural(s.apis, 'API')}, ${plural(s.endpoints, 'endpoint')}, ${plural(s.certificates, 'certificate alias', 'certificate aliases')}${pending}${warnings ? `; ${plural(warnings, 'warning')}` : ''}`;
}
