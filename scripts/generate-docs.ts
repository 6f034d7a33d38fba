// Generates the reference parts of docs/configuration.md (from schemas/gateway.schema.json) and
// docs/errors.md (from src/errors.ts). Each file keeps its hand-written prose; only the block
// between the GENERATED markers is rewritten. `npm run docs` writes them; a test fails when the
// committed files differ from what this produces.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CODES } from '../src/errors.js';
import { schema } from '../src/config/schema.js';
import type { SchemaNode } from '../src/config/schema.js';

export const BEGIN = '<!-- BEGIN GENERATED: edit the source and run `npm run docs`, not this block -->';
export const END = '<!-- END GENERATED -->';

const definitions = schema.definitions ?? {};

function refName(node: SchemaNode): string | undefined {
  return node.$ref?.replace('#/definitions/', '');
}

/** The node with its $ref resolved (siblings of $ref win, as in ajv and editors). */
function resolve(node: SchemaNode): SchemaNode {
  const name = refName(node);
  return name ? { ...definitions[name], ...node } : node;
}

// Definitions documented as a section of their own (objects); the others are value types.
const SECTIONS: Record<string, string> = {
  api: 'API (`apis[]`)',
  endpoint: 'Endpoint (`apis[].endpoints.production`, `apis[].endpoints.sandbox`)',
  timeoutsOverride: 'Timeouts override (`apis[].timeouts`, `apis[].endpoints.*.timeouts`)',
  tlsOverride: 'TLS override (`apis[].tls`, `apis[].endpoints.*.tls`)',
  headersOverride: 'Headers override (`apis[].headers`, `apis[].endpoints.*.headers`)',
  resource: 'Resource (`apis[].resources[]`)',
};
const VALUE_TYPES = ['duration', 'address', 'alias', 'protocols', 'hostnameVerifier', 'ciphers', 'serverName'];

function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .trim()
    .replace(/ /g, '-');
}

function code(value: unknown): string {
  return '`' + (typeof value === 'string' ? value : JSON.stringify(value)) + '`';
}

function typeOf(node: SchemaNode): string {
  const name = refName(node);
  if (name && SECTIONS[name]) return `[${name}](#${anchor(SECTIONS[name])})`;
  if (name && VALUE_TYPES.includes(name)) return `[${name}](#${name.toLowerCase()})`;
  const resolved = resolve(node);
  if (resolved.const !== undefined) return code(resolved.const);
  if (resolved.enum) return resolved.enum.map(code).join(' | ');
  if (resolved.type === 'array' && resolved.items) return `list of ${typeOf(resolved.items)}`;
  const types = ([] as string[]).concat(resolved.type ?? []);
  if (types.includes('array') && resolved.items) {
    return types.map((t) => (t === 'array' ? `list of ${typeOf(resolved.items!)}` : t)).join(' or ');
  }
  return types.join(' or ') || 'any';
}

/**
 * A Markdown table cell: pipes escaped, and <alias>-like text outside code spans kept from being
 * read as HTML (inside a code span, an entity would show literally).
 */
function cell(text: string): string {
  return text
    .replace(/\n/g, ' ')
    .split('`')
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/</g, '&lt;').replace(/>/g, '&gt;')))
    .join('`')
    .replace(/\|/g, '\\|');
}

function rows(node: SchemaNode, prefix: string, out: string[]): void {
  const required = new Set(node.required ?? []);
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const resolved = resolve(child);
    const name = `${prefix}${key}`;
    const defaultText = resolved.default !== undefined ? code(resolved.default) : required.has(key) ? '*required*' : '—';
    const example = resolved.examples?.[0] !== undefined ? code(resolved.examples[0]) : '';
    const secret = resolved.writeOnly ? ' **Secret.**' : '';
    out.push(`| \`${name}\` | ${cell(typeOf(child))} | ${cell(defaultText)} | ${cell((resolved.description ?? '') + secret)} | ${cell(example)} |`);
    const isSection = refName(child) !== undefined && SECTIONS[refName(child)!] !== undefined;
    if (!isSection && resolved.properties) rows(resolved, `${name}.`, out);
    if (!isSection && resolved.type === 'array' && resolved.items && !refName(resolved.items) && resolve(resolved.items).properties) {
      rows(resolve(resolved.items), `${name}[].`, out);
    }
  }
}

function table(node: SchemaNode, prefix = ''): string {
  const out = ['| Key | Type | Default | Meaning | Example |', '| --- | --- | --- | --- | --- |'];
  rows(node, prefix, out);
  return out.join('\n');
}

export function renderConfigurationReference(): string {
  const parts: string[] = ['## Top-level keys', '', table(schema), ''];
  for (const [name, title] of Object.entries(SECTIONS)) {
    const node = definitions[name]!;
    parts.push(`## ${title}`, '', node.description ?? '', '', table(node), '');
  }
  parts.push('## Value types', '');
  for (const name of VALUE_TYPES) {
    const node = definitions[name]!;
    parts.push(`### ${name}`, '', node.description ?? '', '');
    if (node.pattern) parts.push(`Pattern: ${code(node.pattern)}`, '');
    if (node.enum) parts.push(`One of: ${node.enum.map(code).join(', ')}`, '');
    if (node.items?.enum) parts.push(`Items: ${node.items.enum.map(code).join(', ')}`, '');
  }
  return parts.join('\n').trimEnd();
}

export function renderErrorTable(): string {
  const entries = Object.entries(CODES) as [string, { meaning: string; fix: string; status?: number }][];
  const out = ['## Configuration: `validate`, start-up and reload', '', '| Code | Meaning | How to fix |', '| --- | --- | --- |'];
  for (const [name, info] of entries.filter(([, i]) => i.status === undefined)) out.push(`| \`${name}\` | ${cell(info.meaning)} | ${cell(info.fix)} |`);
  out.push('', '## Responses: what a client receives', '', '| Code | Status | Meaning | How to fix |', '| --- | --- | --- | --- |');
  for (const [name, info] of entries.filter(([, i]) => i.status !== undefined)) out.push(`| \`${name}\` | ${info.status} | ${cell(info.meaning)} | ${cell(info.fix)} |`);
  return out.join('\n');
}

export const DOCS = {
  'docs/configuration.md': renderConfigurationReference,
  'docs/errors.md': renderErrorTable,
} as const;

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The text between the markers of a doc file. */
export function generatedBlock(text: string): string | undefined {
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start === -1 || end === -1 || end < start) return undefined;
  return text.slice(start + BEGIN.length, end).trim();
}

function main(): void {
  for (const [file, render] of Object.entries(DOCS)) {
    const full = ROOT + file;
    const text = readFileSync(full, 'utf8');
    const start = text.indexOf(BEGIN);
    const end = text.indexOf(END);
    if (start === -1 || end === -1) throw new Error(`${file}: the GENERATED markers are missing`);
    writeFileSync(full, `${text.slice(0, start)}${BEGIN}\n\n${render()}\n\n${text.slice(end)}`);
    console.log(`wrote ${file}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
