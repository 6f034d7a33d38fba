// Collects positioned diagnostics about the configuration document for the rule and certificate
// stages: a JSON Pointer in, file:line:col and a readable path out.
import type { Diagnostic, Severity } from '../diagnostics.js';
import type { Code } from '../errors.js';
import { displayPointer } from './source-map.js';
import type { SourceMap } from './source-map.js';

export class Reporter {
  readonly diagnostics: Diagnostic[] = [];

  constructor(
    readonly file: string,
    readonly data: unknown,
    readonly sourceMap: SourceMap,
  ) {}

  error(code: Code, pointer: string, message: string, prefer: 'key' | 'value' = 'value'): void {
    this.report('error', code, pointer, message, prefer);
  }

  warning(code: Code, pointer: string, message: string, prefer: 'key' | 'value' = 'value'): void {
    this.report('warning', code, pointer, message, prefer);
  }

  /** A diagnostic about another file (a certificate), not about a place in the configuration. */
  fileDiagnostic(severity: Severity, code: Code, file: string, message: string, line?: number): void {
    this.diagnostics.push({ severity, code, file, ...(line === undefined ? {} : { line, column: 1 }), message });
  }

  path(pointer: string): string {
    return displayPointer(this.data, pointer);
  }

  /** "line 12" for cross-references inside a message. */
  where(pointer: string): string {
    const position = this.sourceMap.locate(pointer, 'key');
    return position ? `line ${position.line}` : this.path(pointer);
  }

  private report(severity: Severity, code: Code, pointer: string, message: string, prefer: 'key' | 'value'): void {
    const position = this.sourceMap.locate(pointer, prefer);
    const path = displayPointer(this.data, pointer);
    this.diagnostics.push({ severity, code, file: this.file, ...(position ?? {}), ...(path ? { path } : {}), message });
  }
}
