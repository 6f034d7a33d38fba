// Parse: configuration text → plain data + a source map (line and column of every node).
// YAML with `yaml` (which keeps positions), TOML with `smol-toml` for the data and
// `toml-eslint-parser` for positions; both give the same plain object to the later stages.
import { LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { TomlError, parse as parseTomlData } from 'smol-toml';
import { parseTOML } from 'toml-eslint-parser';
import type { AST as TomlAst } from 'toml-eslint-parser';
import type { Diagnostic } from '../diagnostics.js';
import { SourceMap, childPointer, toPointer } from './source-map.js';
import type { PathSegment, Position } from './source-map.js';
import { syntaxError, yamlDiagnostics, yamlMessage } from './yaml-errors.js';
import { itemNode, parseInPieces, positionIn } from './yaml-chunks.js';
import type { YamlPieceCache } from './yaml-chunks.js';

export type ConfigFormat = 'yaml' | 'toml';

export type ParseResult =
  | { readonly ok: true; readonly data: unknown; readonly sourceMap: SourceMap }
  | { readonly ok: false; readonly diagnostics: Diagnostic[] };

/** `.toml` is TOML; everything else (.yaml, .yml, .json) is read as YAML, a superset of JSON. */
export function formatOf(file: string): ConfigFormat {
  return file.toLowerCase().endsWith('.toml') ? 'toml' : 'yaml';
}

/**
 * `pieces`: for a file parsed again and again (reloads), the pieces of YAML parsed before, so
 * that an edit costs the pieces it changed (see yaml-chunks.ts). The data is then shared with
 * earlier loads and frozen: the stages after parsing copy it (interpolate builds a new tree).
 */
export function parseConfigText(text: string, file: string, format: ConfigFormat = formatOf(file), pieces?: YamlPieceCache): ParseResult {
  if (format === 'toml') return parseToml(text, file);
  if (pieces) {
    const parsed = parseYamlInPieces(text, pieces);
    if (parsed) {
      pieces.rotate();
      return parsed;
    }
    // Parsed whole (an anchor, a tab…): the pieces of the last load in pieces are kept for the next.
    pieces.forgetThisLoad();
  }
  return parseYaml(text, file);
}

// ---------------------------------------------------------------- YAML

function parseYamlInPieces(text: string, pieces: YamlPieceCache): ParseResult | undefined {
  const parsed = parseInPieces(text, pieces);
  if (!parsed) return undefined;
  const sourceMap = new SourceMap((map) => {
    const first = parsed.items[0];
    // The list is where its first item is, as in a file parsed whole.
    if (first) map.set('/apis', { value: positionIn(first, (first.piece.doc.contents as YamlNode).range![0]) });
    const { rest } = parsed;
    const restContents = rest.piece.doc.contents;
    // The rest's `apis:` is empty (its items are the other pieces): its key only.
    if (restContents) walkYaml(rest.piece.doc, restContents, '', map, rest.piece.text, (offset) => positionIn(rest, offset), 0, '/apis');
    parsed.items.forEach((item, index) => {
      walkYaml(item.piece.doc, itemNode(item), childPointer('/apis', index), map, item.piece.text, (offset) => positionIn(item, offset), 1);
    });
  });
  return { ok: true, data: parsed.data, sourceMap };
}

function parseYaml(text: string, file: string): ParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  if (doc.errors.length > 0) {
    return { ok: false, diagnostics: yamlDiagnostics(doc.errors, text, lineCounter, doc.range[1], file) };
  }
  let data: unknown;
  try {
    // maxAliasCount bounds alias expansion ("billion laughs").
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return { ok: false, diagnostics: [syntaxError(file, { line: 1, column: 1 }, yamlMessage((e as Error).message))] };
  }
  const contents = doc.contents;
  const sourceMap = new SourceMap((map) => {
    if (contents) walkYaml(doc, contents, '', map, text, at, 0);
  });
  return { ok: true, data, sourceMap };
}

function walkYaml(
  doc: Document,
  node: YamlNode,
  pointer: string,
  map: SourceMap,
  text: string,
  at: (offset: number) => Position,
  depth: number,
  keyOnly?: string,
): void {
  if (depth > 64) return; // aliases can nest; positions deeper than this add nothing
  const range = node.range;
  if (range) map.set(pointer, { value: at(range[0]), text: isScalar(node) ? text.slice(range[0], range[1]) : undefined });
  if (isAlias(node)) {
    const target = node.resolve(doc);
    if (target) walkYaml(doc, target, pointer, map, text, at, depth + 1);
  } else if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const key = pair.key as YamlNode | null;
      const value = pair.value as YamlNode | null;
      if (isScalar(key) && typeof key.value === 'symbol') {
        // A merge key (<<: *anchor): the merged keys live where the anchor was written.
        if (value) walkYaml(doc, value, pointer, map, text, at, depth + 1);
        continue;
      }
      const child = childPointer(pointer, isScalar(key) ? String(key.value) : String(key));
      map.set(child, { key: key?.range ? at(key.range[0]) : undefined });
      if (value && child !== keyOnly) walkYaml(doc, value, child, map, text, at, depth + 1);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => {
      if (item && typeof item === 'object' && 'range' in item) walkYaml(doc, item as YamlNode, childPointer(pointer, index), map, text, at, depth + 1);
    });
  }
}

// ---------------------------------------------------------------- TOML

function parseToml(text: string, file: string): ParseResult {
  let data: unknown;
  try {
    data = parseTomlData(text);
  } catch (e) {
    if (e instanceof TomlError) {
      const first = e.message.split('\n')[0] ?? e.message;
      const message = first.replace(/^Invalid TOML document: /, '');
      return { ok: false, diagnostics: [syntaxError(file, { line: e.line, column: e.column }, message)] };
    }
    throw e;
  }
  const sourceMap = new SourceMap((map) => {
    try {
      walkToml(parseTOML(text), map, text);
    } catch {
      // The position parser disagreed with smol-toml on an edge case: the data stands, and
      // diagnostics fall back to the file without a line.
    }
  });
  return { ok: true, data, sourceMap };
}

function tomlPosition(node: TomlAst.TOMLNode): Position {
  return { line: node.loc.start.line, column: node.loc.start.column + 1 };
}

function keyName(part: TomlAst.TOMLBare | TomlAst.TOMLQuoted): string {
  return part.type === 'TOMLBare' ? part.name : part.value;
}

function walkToml(program: TomlAst.TOMLProgram, map: SourceMap, text: string): void {
  map.set('', { value: { line: 1, column: 1 } });
  for (const top of program.body[0]?.body ?? []) {
    if (top.type === 'TOMLKeyValue') {
      walkTomlKeyValue(top, [], map, text);
    } else {
      const key = top.resolvedKey;
      // The array itself for [[name]] tables, then the table.
      if (top.kind === 'array' && typeof key[key.length - 1] === 'number') {
        map.set(toPointer(key.slice(0, -1)), { key: tomlPosition(top) });
      }
      map.set(toPointer(key), { key: tomlPosition(top), value: tomlPosition(top) });
      for (const kv of top.body) walkTomlKeyValue(kv, key, map, text);
    }
  }
}

function walkTomlKeyValue(kv: TomlAst.TOMLKeyValue, base: readonly PathSegment[], map: SourceMap, text: string): void {
  const path: PathSegment[] = [...base];
  for (const part of kv.key.keys) {
    path.push(keyName(part));
    map.set(toPointer(path), { key: tomlPosition(part) });
  }
  walkTomlValue(kv.value, path, map, text);
}

function walkTomlValue(node: TomlAst.TOMLContentNode, path: PathSegment[], map: SourceMap, text: string): void {
  const pointer = toPointer(path);
  if (node.type === 'TOMLArray') {
    map.set(pointer, { value: tomlPosition(node) });
    node.elements.forEach((element, index) => walkTomlValue(element, [...path, index], map, text));
  } else if (node.type === 'TOMLInlineTable') {
    map.set(pointer, { value: tomlPosition(node) });
    for (const kv of node.body) walkTomlKeyValue(kv, path, map, text);
  } else {
    map.set(pointer, { value: tomlPosition(node), text: text.slice(node.range[0], node.range[1]) });
  }
}
