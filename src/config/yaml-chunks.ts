// Parsing a large configuration again after a small edit. A configuration of a thousand APIs is
// mostly its `apis:` list, one item per API; `yaml` parses about 1 MB a second here, so parsing
// the whole file again for a one-API edit was most of a reload. A file whose `apis:` is a block
// sequence at the top level is parsed in pieces: each item on its own, the rest of the file (the
// items blanked out, so every line keeps its number) on its own, each piece parsed once per
// distinct text. The next load parses only the pieces whose text changed.
//
// Only a file of plain pieces takes this path: any error, warning, anchor, alias or document
// marker, or an item that does not parse as exactly one entry, sends the whole file to the usual
// parse, which reports problems with their exact positions. With none of those, YAML's
// indentation rules make each item mean on its own what it means in the file.
import { LineCounter, isSeq, parseDocument, visit } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { deepFreeze } from '../freeze.js';
import type { Position } from './source-map.js';

/** A piece of the file, parsed: its document, its value (frozen: shared by every load that uses it), and where its offsets fall. */
export interface ParsedPiece {
  readonly doc: Document;
  readonly value: unknown;
  readonly text: string;
  readonly lineCounter: LineCounter;
}

export interface PlacedPiece {
  readonly piece: ParsedPiece;
  /** Lines before the piece in the file (0 for the rest of the file, whose lines keep their places). */
  readonly lineOffset: number;
}

export interface ChunkedParse {
  readonly data: Record<string, unknown>;
  readonly rest: PlacedPiece;
  readonly items: readonly PlacedPiece[];
}

/**
 * The pieces parsed by the last two loads, by their text: what the file holds now and what it
 * held before, whatever its size (like the parsed certificates: see certs/parse.ts).
 */
export class YamlPieceCache {
  #now = new Map<string, ParsedPiece | null>();
  #before = new Map<string, ParsedPiece | null>();

  /** The piece parsed, or null when it does not parse plainly (then the whole file is parsed). */
  get(text: string): ParsedPiece | null {
    // null is kept too (a piece that does not parse plainly): `=== undefined`, not `??`, tells it from absent.
    let piece = this.#now.get(text);
    if (piece === undefined) piece = this.#before.get(text);
    if (piece === undefined) piece = parsePiece(text);
    this.#now.set(text, piece);
    return piece;
  }

  /** A load in pieces is over: its pieces are the ones the next load looks in. */
  rotate(): void {
    this.#before = this.#now;
    this.#now = new Map();
  }

  /** A load that fell back to parsing the file whole: what it looked up is dropped, the last load's pieces are kept. */
  forgetThisLoad(): void {
    this.#now = new Map();
  }
}

const OPTIONS = { prettyErrors: false, merge: true, uniqueKeys: true } as const;

function parsePiece(text: string): ParsedPiece | null {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { ...OPTIONS, lineCounter });
  if (doc.errors.length > 0 || doc.warnings.length > 0 || doc.directives.docStart !== null) return null;
  let plain = true;
  visit(doc, {
    Alias: () => ((plain = false), visit.BREAK),
    Node: (_key, node) => (node.anchor ? ((plain = false), visit.BREAK) : undefined),
  });
  if (!plain) return null;
  return { doc, value: deepFreeze(doc.toJS()), text, lineCounter };
}

const BLANK_OR_COMMENT = /^[ ]*(#.*)?\r?$/;
const APIS_KEY = /^apis:[ ]*(#.*)?\r?$/;
const DOCUMENT_MARKER = /^(---|\.\.\.|%)/m;

const indentOf = (line: string): number => line.length - line.trimStart().length;
const isItemStart = (line: string, indent: number): boolean => line.length > indent && line[indent] === '-' && (line.length === indent + 1 || ' \r'.includes(line[indent + 1]!)) && indentOf(line) === indent;

/** The file parsed in pieces, or undefined when it must be parsed whole (see the top of this file). */
export function parseInPieces(text: string, cache: YamlPieceCache): ChunkedParse | undefined {
  if (DOCUMENT_MARKER.test(text) || text.includes('\t')) return undefined;
  const lines = text.split('\n');
  const apisLines = lines.flatMap((line, i) => (APIS_KEY.test(line) ? [i] : []));
  if (apisLines.length !== 1) return undefined;
  const apisLine = apisLines[0]!;

  let first = apisLine + 1;
  while (first < lines.length && BLANK_OR_COMMENT.test(lines[first]!)) first++;
  if (first === lines.length) return undefined;
  const indent = indentOf(lines[first]!);
  if (!isItemStart(lines[first]!, indent)) return undefined;

  // Item starts, and the first line after the list (a line less indented, or as indented and not an item).
  const starts: number[] = [];
  let end = first;
  for (; end < lines.length; end++) {
    const line = lines[end]!;
    if (BLANK_OR_COMMENT.test(line)) continue;
    const lineIndent = indentOf(line);
    if (lineIndent < indent) break;
    if (lineIndent === indent) {
      if (!isItemStart(line, indent)) break;
      starts.push(end);
    }
  }
  // Trailing blank and comment lines stay with the rest of the file.
  while (end > first && BLANK_OR_COMMENT.test(lines[end - 1]!)) end--;

  const restLines = lines.slice();
  for (let i = first; i < end; i++) restLines[i] = '';
  const rest = cache.get(restLines.join('\n'));
  if (!rest || rest.value === null || typeof rest.value !== 'object' || Array.isArray(rest.value)) return undefined;
  if (!('apis' in rest.value) || (rest.value as Record<string, unknown>).apis !== null) return undefined;

  const items: PlacedPiece[] = [];
  for (let k = 0; k < starts.length; k++) {
    const from = starts[k]!;
    const to = k + 1 < starts.length ? starts[k + 1]! : end;
    // Each piece ends with a newline: a last line's \r (CRLF files) must not end a value.
    const piece = cache.get(lines.slice(from, to).join('\n') + '\n');
    if (!piece || !isSeq(piece.doc.contents) || piece.doc.contents.items.length !== 1) return undefined;
    items.push({ piece, lineOffset: from });
  }
  const data = { ...(rest.value as Record<string, unknown>), apis: items.map((item) => (item.piece.value as unknown[])[0]) };
  return { data, rest: { piece: rest, lineOffset: 0 }, items };
}

/** Where an offset of a piece is in the file. */
export function positionIn(placed: PlacedPiece, offset: number): Position {
  const { line, col } = placed.piece.lineCounter.linePos(offset);
  return { line: line + placed.lineOffset, column: col };
}

/** The sequence item of an item piece (the API it holds). */
export const itemNode = (placed: PlacedPiece): YamlNode => (placed.piece.doc.contents as unknown as { items: YamlNode[] }).items[0]!;
