// Collects positioned diagnostics about the configuration document for the rule and certificate
// stages: a JSON Pointer in, file:line:col and a readable path out.
import type { Diagnostic, Severity } from '../diagnostics.js';
import type { Code } from '../errors.js';
import { displayPointer, fromPointer, isRecord } from './source-map.js';
import type { SourceMap } from './source-map.js';

/** Below this length, an expanded value is replaced only where a message quotes it ("value"). */
const MIN_BARE_LENGTH = 8;

export class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  /** [expanded, as written] for values from ${VAR}, longest first; built on the first message. */
  #fromEnvironment: (readonly [string, string])[] | undefined;

  /** `expanded`: pointers of values that came from ${VAR} (interpolate's `expanded`). */
  constructor(
    readonly file: string,
    readonly data: unknown,
    readonly sourceMap: SourceMap,
    readonly expanded: ReadonlySet<string> = new Set(),
  ) {}

  error(code: Code, pointer: string, message: string, prefer: 'key' | 'value' = 'value'): void {
    this.report('error', code, pointer, message, prefer);
  }

  warning(code: Code, pointer: string, message: string, prefer: 'key' | 'value' = 'value'): void {
    this.report('warning', code, pointer, message, prefer);
  }

  /** A diagnostic about another file (a certificate), not about a place in the configuration. */
  fileDiagnostic(severity: Severity, code: Code, file: string, message: string, line?: number): void {
    this.diagnostics.push({ severity, code, file, ...(line === undefined ? {} : { line, column: 1 }), message: this.#asWritten(message) });
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
    this.diagnostics.push({ severity, code, file: this.file, ...(position ?? {}), ...(path ? { path } : {}), message: this.#asWritten(message) });
  }

  /**
   * A message with every value that came from the environment shown as written (`${BACKEND_URL}`),
   * never as expanded: it may be a secret, and messages go to logs, /status and CI output. Rules
   * quote the values they check; this keeps each of them from having to know where a value came from.
   */
  #asWritten(message: string): string {
    if (this.expanded.size === 0) return message;
    this.#fromEnvironment ??= [...this.expanded]
      .flatMap((pointer) => {
        const value = valueAt(this.data, pointer);
        const written = this.sourceMap.text(pointer)?.trim();
        if (typeof value !== 'string' || value === '' || written === undefined) return [];
        // One line, without the quotes: "${URL}" and '${URL}' are both shown as "${URL}".
        const bare = (/^(["']).*\1$/s.test(written) ? written.slice(1, -1) : written).replace(/\s*\n\s*/g, ' ');
        return [[JSON.stringify(value), JSON.stringify(bare)] as const, ...(value.length >= MIN_BARE_LENGTH ? [[value, bare] as const] : [])];
      })
      .sort((a, b) => b[0].length - a[0].length);
    for (const [value, written] of this.#fromEnvironment) {
      if (message.includes(value)) message = message.split(value).join(written);
    }
    return message;
  }
}

function valueAt(data: unknown, pointer: string): unknown {
  let node = data;
  for (const segment of fromPointer(pointer)) {
    if (Array.isArray(node)) node = node[Number(segment)];
    else if (isRecord(node)) node = Object.hasOwn(node, segment) ? node[segment] : undefined;
    else return undefined;
  }
  return node;
}
