// YAML syntax errors in the user's terms, with what to do: the `yaml` parser's errors, by code,
// explained from the text around them (a tab, a key at the wrong column, a list item without
// "- ", an unquoted ${VAR} inside { } or [ ], an unclosed quote...), and the errors a mistake
// cascades into folded into the one that names it. Pure: the parser's errors and the text in,
// diagnostics out (test/config/yaml-errors.test.ts has the table of inputs and messages).
import type { ErrorCode, LineCounter, YAMLError } from 'yaml';
import type { Diagnostic } from '../diagnostics.js';
import type { Position } from './source-map.js';

/** A CONFIG_SYNTAX diagnostic at a position of the file. */
export function syntaxError(file: string, position: Position | undefined, message: string): Diagnostic {
  return { severity: 'error', code: 'CONFIG_SYNTAX', file, ...position, message };
}

/**
 * Mistakes reported one by one; past this, one line counts the rest (a line of 250,000 "${" once
 * gave 500,000 errors, each logged).
 */
const MAX_SYNTAX_ERRORS = 20;

/** What one syntax error tells the user: where to look and what to do. */
interface Explanation {
  readonly position: Position;
  readonly message: string;
  /** An unquoted ${VAR} in a flow collection: the value to quote, where it starts and ends. */
  readonly reference?: Reference;
}

interface Reference {
  readonly start: number;
  readonly end: number;
  readonly value: string;
}

/** The errors of one mistake: the one reported, and those that follow from it. */
interface Cluster {
  readonly primary: Explanation;
  /** Lines the reported error stands on: its own, and the one it was moved to. */
  readonly ownLines: ReadonlySet<number>;
  firstLine: number;
  lastLine: number;
  errors: number;
  /** Followers on other lines than the reported error's, and the last line they reach. */
  elsewhere: number;
  lastElsewhere: number;
  references: Reference[];
}

/** The diagnostics for the parser's `errors` in `text`; `documentEnd` is where the document ends. */
export function yamlDiagnostics(errors: readonly YAMLError[], text: string, counter: LineCounter, documentEnd: number, file: string): Diagnostic[] {
  const source = new YamlSource(text, counter, documentEnd);
  // The parser repeats an error once per level it unwinds (an unclosed [ inside hundreds of [
  // gave 819 identical lines): each error once.
  const seen = new Set<string>();
  const unique = errors.filter((e) => {
    const key = `${e.pos[0]}:${e.code}:${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });

  // One mistake makes the parser lose its footing, and what it reports next is noise: after a tab
  // or a wrongly indented line, it misreads that line and the next (a key becomes part of a value,
  // a map item a list item), and an unquoted ${ opens a flow map whose } ends the document early,
  // so that every token after it is "unexpected in the YAML stream". The first error of a mistake
  // is the precise one (the parser reports the cause before the confusion), so the rule is: an
  // error on a line the mistake already spans, or on the line just above or below, belongs to it;
  // so does every error after the first one past the end of the document, which comes from what
  // ended it. A mistake shows once, with a count of its followers on other lines; mistakes further
  // apart are reported each.
  const clusters: Cluster[] = [];
  let pastEnd = false;
  for (const e of unique) {
    const line = source.lineOf(e.pos[0]);
    const last = clusters.at(-1);
    const afterEnd = e.pos[0] >= source.documentEnd && e.code !== 'MULTIPLE_DOCS';
    const follows = afterEnd && pastEnd;
    pastEnd ||= afterEnd;
    if (last && (follows || (line >= last.firstLine - 1 && line <= last.lastLine + 1))) {
      last.errors++;
      last.firstLine = Math.min(last.firstLine, line);
      last.lastLine = Math.max(last.lastLine, line);
      // An error whose range ends where the reported one stands (a key whose value was the tab line) is part of it.
      if (last.ownLines.has(line) || last.ownLines.has(source.lineOf(e.pos[1]))) {
        if (last.primary.reference && last.references.length < MAX_REFERENCES_SHOWN) addReference(last.references, source.referenceAt(e.pos[0]));
      } else {
        last.elsewhere++;
        last.lastElsewhere = Math.max(last.lastElsewhere, line);
      }
      continue;
    }
    // Past the limit only the count is shown: no need to read the text around the error.
    const primary: Explanation = clusters.length < MAX_SYNTAX_ERRORS ? explainYamlError(e, source) : { position: source.position(e.pos[0]), message: '' };
    const ownLines = new Set([line, primary.position.line]);
    clusters.push({
      primary,
      ownLines,
      firstLine: Math.min(...ownLines),
      lastLine: Math.max(...ownLines),
      errors: 1,
      elsewhere: 0,
      lastElsewhere: 0,
      references: primary.reference ? [primary.reference] : [],
    });
  }

  const diagnostics: Diagnostic[] = [];
  const shown = new Set<string>();
  for (const cluster of clusters.slice(0, MAX_SYNTAX_ERRORS)) {
    const { position } = cluster.primary;
    let message = cluster.primary.reference ? referenceMessage(cluster.references) : cluster.primary.message;
    if (cluster.elsewhere === 1) message += ` (1 more syntax error, on line ${cluster.lastElsewhere}, most likely comes from the same mistake)`;
    else if (cluster.elsewhere > 1) message += ` (${cluster.elsewhere} more syntax errors, up to line ${cluster.lastElsewhere}, most likely come from the same mistake)`;
    const key = `${position.line}:${position.column}:${message}`;
    if (shown.has(key)) continue;
    shown.add(key);
    diagnostics.push(syntaxError(file, position, message));
  }
  const rest = clusters.slice(MAX_SYNTAX_ERRORS);
  if (rest[0]) {
    const count = rest.reduce((sum, c) => sum + c.errors, 0);
    diagnostics.push(syntaxError(file, rest[0].primary.position, `and ${count} more syntax error${count === 1 ? '' : 's'} from here on, most of them caused by the ones above`));
  }
  return diagnostics;
}

const TAB_MESSAGE = "a tab indents this line; YAML indents with spaces only: replace the tab with spaces (editors: 'convert indentation to spaces')";

/** Unquoted references named in one message; a line of thousands of "${" needs no more to be understood. */
const MAX_REFERENCES_SHOWN = 3;

function explainYamlError(e: YAMLError, source: YamlSource): Explanation {
  // "${" is where the parser stumbles whatever it calls the error (a flow map opened at a node's
  // end, a missing "," between items): in block context "${VAR}" is an ordinary value, so a "${"
  // at the error means an unquoted reference inside { } or [ ].
  const reference = source.referenceAt(e.pos[0]);
  if (reference) return { position: source.position(reference.start), message: '', reference };
  return explainers[e.code]?.(e, source) ?? { position: source.position(e.pos[0]), message: plainMessage(e.message) };
}

function referenceMessage(references: readonly Reference[]): string {
  const quoted = references.map((r) => quoteValue(r.value)).join(', ');
  return references.length === 1 ? `a \${VAR} reference inside { } or [ ] must be quoted: ${quoted}` : `\${VAR} references inside { } or [ ] must be quoted: ${quoted}`;
}

function addReference(references: Reference[], reference: Reference | undefined): void {
  // "${A}${B}" stumbles the parser at both "${", but it is one value to quote.
  if (reference && !references.some((r) => r.value === reference.value || (reference.start < r.end && r.start < reference.end))) references.push(reference);
}

/**
 * By the parser's error code. MISSING_CHAR and BAD_INDENT each name several problems (an item
 * without "-", an unclosed quote; a map or a list out of line, an unclosed { or [): for those the
 * first words of the parser's message tell which.
 */
const explainers: { readonly [C in ErrorCode]?: (e: YAMLError, source: YamlSource) => Explanation | undefined } = {
  TAB_AS_INDENT: (e, source) => ({ position: source.position(e.pos[0]), message: TAB_MESSAGE }),

  BAD_INDENT: (e, source) => {
    const line = source.itemLineAt(e.pos[0]);
    if (!line) return undefined;
    // Tabs are not indentation: a line that looks indented with them is not, to YAML.
    if (line.tabColumn) return tabAt(line);
    if (e.message.startsWith('Flow ')) return unclosedFlow(e, source);
    if (e.message.startsWith('All sequence items')) return listItemColumn(line, source);
    return mapKeyColumn(line, source);
  },

  MISSING_CHAR: (e, source) => {
    const line = source.itemLineAt(e.pos[0]);
    if (e.message.startsWith('Sequence item without')) {
      if (!line) return undefined;
      if (line.tabColumn) return tabAt(line);
      return listItemWithoutDash(line, source.above(line.number).find((up) => up.indent < line.indent));
    }
    if (e.message.startsWith('Implicit map keys need to be followed')) return line && missingColon(line, false);
    if (e.message.startsWith('Missing closing')) return unclosedQuote(e, source, e.message.includes("'quote") ? "'" : '"');
    return undefined;
  },

  BLOCK_AS_IMPLICIT_KEY: (e, source) => {
    const line = source.itemLineAt(e.pos[0]);
    if (!line) return undefined;
    if (line.tabColumn) return tabAt(line);
    // A "- " line read as a key: the list item is out of line with the items above it.
    if (line.dash && e.pos[0] <= line.start + line.indent) return listItemColumn(line, source);
    return line.start <= e.pos[0] ? valueRunsOn(e, line, source) : undefined;
  },

  MULTILINE_IMPLICIT_KEY: (e, source) => {
    const line = source.itemLineAt(e.pos[0]);
    if (!line) return undefined;
    if (line.tabColumn) return tabAt(line);
    return missingColon(line, true);
  },

  UNEXPECTED_TOKEN: (e, source) => {
    const token = source.slice(e.pos[0], Math.min(e.pos[1], e.pos[0] + 40));
    if ((token === '}' || token === ']') && e.pos[0] >= source.documentEnd) {
      return { position: source.position(e.pos[0]), message: `this ${token} has nothing open to close: remove it, or add the ${token === '}' ? '{' : '['} it was meant to close` };
    }
    const before = source.slice(e.pos[0] - 1, e.pos[0]);
    if ((before === "'" || before === '"') && token.trim() !== '') return textAfterQuote(e.pos[0] - 1, before, source);
    return undefined;
  },

  DUPLICATE_KEY: (e, source) => {
    const line = source.lineAt(e.pos[0]);
    const key = keyText(source.slice(e.pos[0], e.pos[0] + MAX_QUOTED * 4));
    if (!line || key === undefined) return undefined;
    const column = source.position(e.pos[0]).column;
    let first: SourceLine | undefined;
    if (column === line.keyColumn) {
      for (const up of source.above(line.number)) {
        if (up.keyColumn === column && up.key === key) {
          first = up;
          break;
        }
        // The map began at this line (a key further left, or the "- " that opens this item).
        if (up.keyColumn < column || (up.dash && up.keyColumn === column)) break;
      }
    }
    const name = quoteText(key);
    return {
      position: source.position(e.pos[0]),
      message: first ? `${name} is already set on line ${first.number}: a map holds each key once; remove one of them` : `${name} appears twice in this map: a map holds each key once; remove one of them`,
    };
  },

  BAD_DQ_ESCAPE: (e, source) => {
    const escape = source.slice(e.pos[0], e.pos[0] + 2);
    if (!escape.startsWith('\\') || escape.length < 2) return undefined;
    return {
      position: source.position(e.pos[0]),
      message: `${escape} is not an escape sequence inside "...": write \\\\ for a backslash (as in Windows paths), or quote the value with '...', where \\ is an ordinary character`,
    };
  },

  BAD_SCALAR_START: (e, source) => {
    const first = source.slice(e.pos[0], e.pos[0] + 1);
    const line = source.lineAt(e.pos[0]);
    if (!line || first.trim() === '') return undefined;
    let value = stripComment(source.slice(e.pos[0], line.end));
    // In { } or [ ] the value ends at the next separator.
    if (/[{[]/.test(source.slice(line.start, e.pos[0]))) value = value.split(/[,}\]]/)[0]!.trimEnd();
    return { position: source.position(e.pos[0]), message: `a value cannot start with ${first} (YAML reserves it): quote it: ${quoteValue(value)}` };
  },

  MULTIPLE_DOCS: (e, source) => ({ position: source.position(e.pos[0]), message: 'the file holds several YAML documents (---); a configuration is one document' }),

  RESOURCE_EXHAUSTION: (e, source) => ({ position: source.position(e.pos[0]), message: yamlMessage(e.message) }),
};

function tabAt(line: SourceLine): Explanation {
  return { position: { line: line.number, column: line.tabColumn ?? 1 }, message: TAB_MESSAGE };
}

/** A key that does not line up with the keys before it. */
function mapKeyColumn(line: SourceLine, source: YamlSource): Explanation | undefined {
  // The keys it follows (the least indented lines since the parent) and the parent (the first line
  // less indented than it): one column puts it under the parent, the other beside.
  let parent: SourceLine | undefined;
  let sibling: SourceLine | undefined;
  for (const up of source.above(line.number)) {
    if (up.indent < line.indent) {
      parent = up;
      break;
    }
    if (up.indent === line.indent) {
      if (up.dash) return listItemWithoutDash(line, up);
      continue;
    }
    if (!sibling || up.indent < sibling.indent) sibling = up;
  }
  // Inside a list item's map, left of its keys: the item's map, not a parent map, is the one it breaks.
  if (parent?.dash && parent.keyColumn > line.indent + 1) return listItemWithoutDash(line, parent);
  // Nothing above to line up with but a key that already has its value ("version: 1" then
  // "  http: 8280"); or nothing at all, where the parser's own words are as good as any.
  if (!sibling) return parent?.value ? indentedUnderValue(line, parent) : undefined;
  const position = { line: line.number, column: line.indent + 1 };
  const name = quoteText(line.key ?? line.item);
  const besideParent = parent?.key ? `at column ${parent.keyColumn} to put it beside ${quoteText(parent.key)}` : undefined;
  if (sibling.dash) {
    return {
      position,
      message: `${name} starts at column ${position.column}, but the list items above it start at column ${sibling.indent + 1} (line ${sibling.number})${besideParent ? `: start it ${besideParent}, or write "- " before it for a list item` : ''}`,
    };
  }
  const underParent = parent?.key ? ` to put it under ${quoteText(parent.key)}` : '';
  return {
    position,
    message:
      `${name} starts at column ${position.column}, but the keys before it start at column ${sibling.keyColumn} (${quoteText(sibling.key ?? sibling.item)}, line ${sibling.number}): ` +
      `the keys of one map start at the same column; start it at column ${sibling.keyColumn}${underParent}${besideParent ? `, or ${besideParent}` : ''}`,
  };
}

/** A line among the items of a list, without the "- " that makes it one. */
function listItemWithoutDash(line: SourceLine, item: SourceLine | undefined): Explanation {
  const position = { line: line.number, column: line.indent + 1 };
  if (!item?.dash) return { position, message: 'a list item needs "- " before it, or this line is indented wrongly' };
  const newItem = `write ${quoteValue(`- ${line.item}`)} at column ${item.indent + 1}`;
  const addTo = item.key ? `indent it to column ${item.keyColumn}, like ${quoteText(item.key)}` : undefined;
  const head = 'a list item needs "- ", or this line is indented wrongly: ';
  if (!addTo) return { position, message: `a list item needs "- ": for a new item of the list on line ${item.number}, ${newItem}` };
  // At the column of the "- " it most likely starts a new item; further right, it most likely continues the item.
  return {
    position,
    message:
      line.indent === item.indent
        ? `${head}for a new item of the list on line ${item.number}, ${newItem}; to add it to the item above, ${addTo}`
        : `${head}to add it to the item that starts on line ${item.number}, ${addTo}; for a new item, ${newItem}`,
  };
}

/** A "- " item out of line with the items above it. */
function listItemColumn(line: SourceLine, source: YamlSource): Explanation {
  const position = { line: line.number, column: line.indent + 1 };
  let other: SourceLine | undefined;
  for (const up of source.above(line.number)) {
    if (up.dash) {
      if (up.indent !== line.indent) other = up;
      break;
    }
    if (up.indent <= line.indent) break;
  }
  if (!other) return { position, message: 'this list item is out of line with the items of its list: the items of one list start at the same column' };
  return {
    position,
    message: `this "- " item starts at column ${position.column}, but the one above it (line ${other.number}) starts at column ${other.indent + 1}: the items of one list start at the same column`,
  };
}

/**
 * "key: value" followed by a line indented further: YAML reads that line as more of the value, and
 * its ":" as a map where none may be. Or the value itself holds ": ".
 */
function valueRunsOn(e: YAMLError, line: SourceLine, source: YamlSource): Explanation | undefined {
  const rest = stripComment(source.slice(e.pos[0], Math.min(line.end, e.pos[0] + MAX_QUOTED * 4)));
  if (/:(\s|$)/.test(rest)) {
    return { position: source.position(e.pos[0]), message: `a value with ": " in it must be quoted: ${quoteValue(rest)}` };
  }
  const next = source.below(line.number);
  if (!next || next.indent + 1 <= line.keyColumn) return undefined;
  if (next.tabColumn) return tabAt(next);
  return indentedUnderValue(next, line);
}

/** `line` is indented under `owner`, a "key: value" line: YAML reads it as more of that value. */
function indentedUnderValue(line: SourceLine, owner: SourceLine): Explanation | undefined {
  if (!owner.key) return undefined;
  const key = quoteText(owner.key);
  return {
    position: { line: line.number, column: line.indent + 1 },
    message:
      `${quoteText(line.key ?? line.item)} is indented further than ${key} above it (column ${owner.keyColumn}), so YAML reads it as more of the value of ${key}: ` +
      `the keys of one map start at the same column; start it at column ${owner.keyColumn}, or, for a map under ${key}, put nothing after ${quoteText(`${owner.key}:`)}`,
  };
}

/** "listen" or "http 8280": a key without its ":". */
function missingColon(line: SourceLine, joinsNextLine: boolean): Explanation | undefined {
  const body = stripComment(line.item);
  if (body === '' || /:(\s|$)/.test(body)) return undefined;
  const words = /^(\S+)[ \t]+(\S.*)$/.exec(body);
  const fix = words ? `${words[1]}: ${words[2]}` : `${body}:`;
  return {
    position: { line: line.number, column: line.keyColumn },
    message: joinsNextLine
      ? `this line has no ":" after its key, so YAML reads it and the next line as one key: write ${quoteValue(fix)}`
      : `this line has no ":" after its key: write ${quoteValue(fix)}`,
  };
}

function unclosedQuote(e: YAMLError, source: YamlSource, quote: '"' | "'"): Explanation {
  // The parser points at the end of the file, where the quoted value ran to; the mistake is where it opened.
  const opening = source.openingQuote(e.pos[0], quote);
  const inside = quote === '"' ? '\\"' : "''";
  return {
    position: source.position(opening ?? e.pos[0]),
    message: `the ${quote} that opens this value is never closed: add the closing ${quote} (inside ${quote}...${quote}, write ${inside} for a ${quote})`,
  };
}

function textAfterQuote(closing: number, quote: string, source: YamlSource): Explanation {
  const line = source.lineAt(closing);
  let example = '';
  if (line && line.end - line.start <= 400) {
    // 'it's': the value the user meant runs from the opening quote to the last quote of the line.
    const opening = source.slice(line.start, closing).lastIndexOf(quote);
    const last = source.slice(line.start, line.end).lastIndexOf(quote);
    if (opening >= 0 && last > closing - line.start) {
      const inner = source.slice(line.start + opening + 1, line.start + last);
      example = ` (${quote}${quote === '"' ? inner.replace(/(?<!\\)"/g, '\\"') : inner.replace(/'/g, "''")}${quote})`;
    }
  }
  const other = quote === '"' ? "'...'" : '"..."';
  const escaped = quote === '"' ? '\\"' : "''";
  return {
    position: source.position(closing + 1),
    message: `text follows the closing ${quote} of a quoted value; inside ${quote}...${quote}, write ${escaped} for a ${quote}${example}, or quote with ${other} instead`,
  };
}

function unclosedFlow(e: YAMLError, source: YamlSource): Explanation | undefined {
  const opening = source.openingBracket(e.pos[0]);
  if (opening === undefined) return undefined;
  const bracket = source.slice(opening, opening + 1);
  const line = source.lineAt(opening);
  const kind = bracket === '{' ? '{ } map' : '[ ] list';
  const closing = bracket === '{' ? '}' : ']';
  const key = line?.key ? `, and indent the lines inside it further than ${quoteText(line.key)}` : '';
  const opened = source.position(opening);
  return { position: source.position(e.pos[0]), message: `the ${kind} opened on line ${opened.line} (column ${opened.column}) is not closed: end it with ${closing}${key}` };
}

/** Quoted text in a message stays short: a 2 MB value is not echoed. */
const MAX_QUOTED = 60;

function shorten(text: string): string {
  return text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text;
}

function quoteText(text: string): string {
  return `"${shorten(text)}"`;
}

/** As the user would write it in YAML: double quotes, unless the value holds one. */
function quoteValue(value: string): string {
  const text = shorten(value);
  return text.includes('"') ? `'${text.replace(/'/g, "''")}'` : `"${text}"`;
}

function stripComment(text: string): string {
  return text.replace(/(^|\s)#.*$/, '').trim();
}

function keyText(text: string): string | undefined {
  return keyOf(text)?.key;
}

/** The key at the start of `text` ("name: ...", "'a b': ..."), unquoted, and the length up to its ":". */
function keyOf(text: string): { key: string; length: number } | undefined {
  const match = /^(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\n]|'')*)'|([^\s#'"?:,[\]{}][^\n#]*?))[ \t]*:(?=[ \t\r\n]|$)/.exec(text);
  const key = match?.[1] ?? match?.[2]?.replace(/''/g, "'") ?? match?.[3];
  return match && key !== undefined ? { key, length: match[0].length } : undefined;
}

interface SourceLine {
  /** 1-based. */
  readonly number: number;
  /** Offsets of the line's first character and of its end (before the line break). */
  readonly start: number;
  readonly end: number;
  /** Leading spaces. */
  readonly indent: number;
  /** The 1-based column of a tab among the leading white space. */
  readonly tabColumn: number | undefined;
  /** A list item: "- ..." or a lone "-". */
  readonly dash: boolean;
  /** What follows the indentation, and the "- " of an item. */
  readonly item: string;
  /** The column where that starts: the key of a "key: value" line. */
  readonly keyColumn: number;
  readonly key: string | undefined;
  /** What follows the key's ":", comment stripped; '' for a key alone, undefined without a key. */
  readonly value: string | undefined;
}

function holdsSomething(line: SourceLine): boolean {
  return line.dash || (line.item !== '' && !line.item.startsWith('#'));
}

/** Lines read around an error: the error's line, and a bounded walk up or down from it. */
class YamlSource {
  /** Past this many lines the walk stops: a message's context is local. */
  private static readonly WALK = 500;
  /** What is read of a line to find its shape; a key is at most 1024 characters anyway. */
  private static readonly LINE = 1100;

  constructor(
    private readonly text: string,
    private readonly counter: LineCounter,
    /** Where the document ends; an error past it is about tokens after the end. */
    readonly documentEnd: number,
  ) {}

  position(offset: number): Position {
    const { line, col } = this.counter.linePos(offset);
    return { line, column: col };
  }

  lineOf(offset: number): number {
    return this.counter.linePos(offset).line;
  }

  slice(start: number, end: number): string {
    return this.text.slice(Math.max(0, start), Math.max(0, end));
  }

  lineAt(offset: number): SourceLine | undefined {
    return this.line(this.lineOf(offset));
  }

  /**
   * The line of the item at `offset`: the parser counts the blank lines and comments before an
   * item as part of it, and may point at them.
   */
  itemLineAt(offset: number): SourceLine | undefined {
    const line = this.lineAt(offset);
    return line && !holdsSomething(line) ? this.below(line.number) : line;
  }

  line(number: number): SourceLine | undefined {
    const starts = this.counter.lineStarts;
    const start = starts[number - 1];
    if (start === undefined) return undefined;
    const next = starts[number];
    let end = next === undefined ? this.text.length : next - 1;
    if (this.text[end - 1] === '\r') end--;
    const text = this.text.slice(start, Math.min(end, start + YamlSource.LINE));
    const lead = /^[ \t]*/.exec(text)![0];
    const tab = lead.indexOf('\t');
    const indent = /^ */.exec(text)![0].length;
    const body = text.slice(lead.length);
    const dash = body === '-' || /^-[ \t]/.test(body);
    const afterDash = dash ? /^-[ \t]*/.exec(body)![0].length : 0;
    const item = body.slice(afterDash).trimEnd();
    const key = keyOf(item);
    return {
      number,
      start,
      end,
      indent,
      tabColumn: tab >= 0 ? tab + 1 : undefined,
      dash,
      item,
      keyColumn: lead.length + afterDash + 1,
      key: key?.key,
      value: key ? stripComment(item.slice(key.length)) : undefined,
    };
  }

  /** The lines above `number` that hold something (not blank, not only a comment), nearest first. */
  above(number: number): SourceLine[] {
    const lines: SourceLine[] = [];
    for (let n = number - 1; n >= 1 && n >= number - YamlSource.WALK; n--) {
      const line = this.line(n);
      if (line && holdsSomething(line)) lines.push(line);
    }
    return lines;
  }

  /** The next line below `number` that holds something. */
  below(number: number): SourceLine | undefined {
    for (let n = number + 1; n <= number + YamlSource.WALK; n++) {
      const line = this.line(n);
      if (!line) return undefined;
      if (holdsSomething(line)) return line;
    }
    return undefined;
  }

  /** An unquoted "${...}" at `offset` (its "$" or its "{"), and the whole value it stands in. */
  referenceAt(offset: number): Reference | undefined {
    const text = this.text;
    const dollar = text.startsWith('${', offset) ? offset : text[offset] === '{' && text[offset - 1] === '$' ? offset - 1 : -1;
    if (dollar < 0) return undefined;
    const bound = 200;
    const stop = /[\s,[\]{}"']/;
    let start = dollar;
    while (start > 0 && dollar - start < bound && !stop.test(text[start - 1]!)) start--;
    let end = dollar;
    while (end < text.length && end - dollar < bound) {
      if (text.startsWith('${', end)) {
        const close = text.slice(end + 2, end + bound).search(/[}{\n]/);
        if (close < 0 || text[end + 2 + close] !== '}') {
          end += 2;
          break;
        }
        end += close + 3;
        continue;
      }
      const c = text[end]!;
      if (stop.test(c) || (c === ':' && /^(?:[\s,\]}]|$)/.test(text.slice(end + 1, end + 2)))) break;
      end++;
    }
    return { start, end, value: text.slice(start, end) };
  }

  /** The quote that opens the unclosed quoted value ending at `end`. */
  openingQuote(end: number, quote: '"' | "'"): number | undefined {
    const from = Math.max(0, end - 100_000);
    let i = this.text.lastIndexOf(quote, end - 1);
    while (i >= from) {
      if (quote === '"') {
        let backslashes = 0;
        while (this.text[i - 1 - backslashes] === '\\') backslashes++;
        if (backslashes % 2 === 0) return i;
        i = this.text.lastIndexOf(quote, i - 1);
      } else {
        // '' is a quote inside '...'.
        if (this.text[i - 1] !== "'") return i;
        i = this.text.lastIndexOf(quote, i - 2);
      }
    }
    return undefined;
  }

  /** The { or [ still open at `offset` (quotes are not skipped: a hint, not a parse). */
  openingBracket(offset: number): number | undefined {
    let depth = 0;
    for (let i = offset - 1; i >= 0 && offset - i <= 10_000; i--) {
      const c = this.text[i];
      if (c === '}' || c === ']') depth++;
      else if (c === '{' || c === '[') {
        if (depth === 0) return i;
        depth--;
      }
    }
    return undefined;
  }
}

/** The parser's own words, as a diagnostic's sentence: its first line, lower-cased. */
function plainMessage(message: string): string {
  const first = message.split('\n')[0] ?? message;
  return first.charAt(0).toLowerCase() + first.slice(1);
}

/** For what the document's conversion throws (no code there), and the RESOURCE_EXHAUSTION of composing. */
export function yamlMessage(message: string): string {
  if (/maximum call stack size exceeded/i.test(message)) {
    return 'the document is nested too deeply (hundreds of levels of [ ], { } or indentation)';
  }
  return plainMessage(message);
}

