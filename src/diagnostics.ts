// Diagnostics: what validation says about a configuration, compiler style.
// One shape for every stage (syntax, schema, rules, certificates) and three renderings:
// text for people, JSON for tools, GitHub workflow annotations for CI.
import path from 'node:path';
import type { Code } from './errors.js';

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  readonly severity: Severity;
  readonly code: Code;
  /** Absolute path of the file the diagnostic is about (the config, or a certificate file). */
  readonly file: string;
  /** 1-based; absent when the diagnostic is about a whole file. */
  readonly line?: number;
  readonly column?: number;
  /** Where in the configuration, as `apis[0].endpoints.production.url`; absent for file-level problems. */
  readonly path?: string;
  readonly message: string;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Sorted by file, then position, errors first; file-level diagnostics (no line) of a file come first. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort(
    (a, b) =>
      compare(a.file, b.file) ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.column ?? 0) - (b.column ?? 0) ||
      compare(a.severity, b.severity) || // 'error' < 'warning'
      compare(a.message, b.message),
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Paths are shown relative to the working folder when inside it, as compilers do. */
export function displayPath(file: string, cwd = process.cwd()): string {
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

function location(d: Diagnostic, cwd: string): string {
  const file = displayPath(d.file, cwd);
  return d.line === undefined ? file : `${file}:${d.line}:${d.column ?? 1}`;
}

function subject(d: Diagnostic): string {
  return d.path ? `${d.path}: ${d.message}` : d.message;
}

/**
 * `gateway.yaml:14:18  apis[0].timeouts.connect: must be a duration ... (got "5 sec")  [CONFIG_INVALID_VALUE]`
 * Warnings carry the word "warning" after the position.
 */
export function formatDiagnostic(d: Diagnostic, cwd = process.cwd()): string {
  const severity = d.severity === 'warning' ? 'warning  ' : '';
  return `${location(d, cwd)}  ${severity}${subject(d)}  [${d.code}]`;
}

export function formatText(diagnostics: readonly Diagnostic[], cwd = process.cwd()): string {
  return sortDiagnostics(diagnostics)
    .map((d) => formatDiagnostic(d, cwd) + '\n')
    .join('');
}

export function toJson(d: Diagnostic, cwd = process.cwd()): Record<string, unknown> {
  return {
    severity: d.severity,
    code: d.code,
    file: displayPath(d.file, cwd),
    line: d.line,
    column: d.column,
    path: d.path,
    message: d.message,
  };
}

/** Errors and warnings apart, as JSON: what validate --format json, POST /reload and /status print. */
export function errorsAndWarnings(diagnostics: readonly Diagnostic[], cwd = process.cwd()): { errors: Record<string, unknown>[]; warnings: Record<string, unknown>[] } {
  return {
    errors: diagnostics.filter((d) => d.severity === 'error').map((d) => toJson(d, cwd)),
    warnings: diagnostics.filter((d) => d.severity === 'warning').map((d) => toJson(d, cwd)),
  };
}

// GitHub workflow commands: https://docs.github.com/actions/reference/workflow-commands-for-github-actions
function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

export function formatGithub(diagnostics: readonly Diagnostic[], cwd = process.cwd()): string {
  return sortDiagnostics(diagnostics)
    .map((d) => {
      const props = [`file=${escapeProperty(displayPath(d.file, cwd))}`];
      if (d.line !== undefined) props.push(`line=${d.line}`, `col=${d.column ?? 1}`);
      props.push(`title=${escapeProperty(d.code)}`);
      return `::${d.severity} ${props.join(',')}::${escapeData(subject(d))}\n`;
    })
    .join('');
}
