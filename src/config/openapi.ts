// An API's resources from an OpenAPI 3.x or Swagger 2.0 definition (SPEC §12):
// `resources: { openapi: ./orders.openapi.yaml }`. The definition is read as one file: it is
// parsed with `yaml` (which keeps every node's line), validated against its specification by
// @readme/openapi-parser with every kind of $ref resolution but the document's own (#/…) turned
// off, and its paths and methods become the same allow-list as `resources: [...]` written by
// hand. Where it says it is served (Swagger's host/basePath/schemes, OpenAPI's servers) is not
// used for routing: the API's context and version are (docs/configuration.md says why).
import { dereference, validate } from '@readme/openapi-parser';
import type { ParserOptions } from '@readme/openapi-parser';
import type { Diagnostic } from '../diagnostics.js';
import { parseConfigText } from './parse.js';
import { templateProblem } from './rules.js';
import { childPointer, displayPointer, fromPointer, isRecord, toPointer } from './source-map.js';
import type { PathSegment } from './source-map.js';
import type { HttpMethod, OpenApiDefinition, ResourceConfig } from './types.js';

/** Definitions are larger than configurations: Stripe's, among the largest public ones, is about 7 MB. */
export const MAX_OPENAPI_FILE_BYTES = 16 * 1024 * 1024;

/** The operations of a path item, in the order the allow-list lists them. */
const OPERATIONS: readonly (readonly [string, HttpMethod])[] = [
  ['get', 'GET'],
  ['head', 'HEAD'],
  ['post', 'POST'],
  ['put', 'PUT'],
  ['patch', 'PATCH'],
  ['delete', 'DELETE'],
  ['options', 'OPTIONS'],
];

/**
 * Checks of parameters and operation ids that say nothing about paths and methods: a WSO2 export
 * often leaves path parameters undeclared, and routing does not need them.
 */
const RELAXED = {
  'array-without-items': 'warning',
  'duplicate-non-request-body-parameters': 'warning',
  'duplicate-operation-id': 'warning',
  'non-optional-path-parameters': 'warning',
  'path-parameters-not-in-parameters': 'warning',
  'path-parameters-not-in-path': 'warning',
} as const;

/**
 * Only the document itself: no file, no URL. A definition that reaches out is refused before
 * the parser sees it (externalRefs), so these are the second lock, not the first.
 */
const PARSER_OPTIONS: ParserOptions = {
  resolve: { external: false, file: false },
  validate: { rules: { openapi: RELAXED, swagger: { ...RELAXED, 'unknown-required-schema-property': 'warning' } } },
};

export type ParsedOpenApi = Omit<OpenApiDefinition, 'file' | 'sha256'>;

/**
 * The resources of a definition's text; `file` names it in the diagnostics (OPENAPI_FILE, each
 * at its line where the problem has one). The definition only when there is no error.
 */
export async function parseOpenApi(text: string, file: string): Promise<{ readonly definition?: ParsedOpenApi; readonly diagnostics: readonly Diagnostic[] }> {
  const parsed = parseConfigText(text, file, 'yaml');
  if (!parsed.ok) return { diagnostics: parsed.diagnostics.map((d) => ({ ...d, code: 'OPENAPI_FILE' })) };
  const { data, sourceMap } = parsed;
  const problem = (pointer: string, message: string, severity: Diagnostic['severity'] = 'error', prefer: 'key' | 'value' = 'key'): Diagnostic => ({
    severity,
    code: 'OPENAPI_FILE',
    file,
    ...(pointer === '' ? {} : (sourceMap.locate(pointer, prefer) ?? {})),
    message,
  });

  const specification = specificationOf(data);
  if (!isRecord(data) || !specification) {
    return { diagnostics: [problem('', 'is not an OpenAPI 3.0/3.1 or Swagger 2.0 definition: expected an "openapi: 3.x.y" or "swagger: \'2.0\'" key at the top (resources.openapi names the file relative to the configuration file\'s folder)')] };
  }
  const label = `${specification.name} ${specification.version}`;
  const external = externalRefs(data);
  if (external.length > 0) {
    return {
      diagnostics: external.map(({ pointer, ref }) =>
        problem(pointer, `$ref "${ref}" points outside the definition: Gatehouse reads the definition as one file and resolves no other file or URL; bundle it into one (for example \`npx @redocly/cli bundle ${ref.split('#')[0] || 'definition.yaml'}\`)`, 'error', 'value'),
      ),
    };
  }

  // Gatehouse's own checks of the paths first: they know each path's line, the parser's do not.
  const diagnostics: Diagnostic[] = [];
  const ignored = servedAt(data);
  const resources: ResourceConfig[] = [];
  const paths = isRecord(data.paths) ? data.paths : {};
  for (const [template, item] of Object.entries(paths)) {
    if (template.startsWith('x-')) continue; // an extension, not a path
    const pointer = childPointer('/paths', template);
    const converted = routingTemplate(template);
    if ('problem' in converted) {
      diagnostics.push(problem(pointer, `path ${JSON.stringify(template)} ${converted.problem}: Gatehouse matches whole segments (literals, {parameter} or a trailing /*)`));
      continue;
    }
    if (converted.widened) ignored.push(`${template} is matched as ${converted.path} (a parameter inside a segment matches the whole segment)`);
    const operations = pathItemOf(data, item);
    const methods = OPERATIONS.filter(([key]) => isRecord(operations[key])).map(([, method]) => method);
    if (isRecord(operations.trace)) ignored.push(`TRACE ${template} (the gateway forwards no TRACE)`);
    if (methods.length > 0) resources.push({ path: converted.path, methods });
  }
  if (diagnostics.length > 0) return { diagnostics };

  let result;
  try {
    result = await validate(forTheParser(data) as never, PARSER_OPTIONS);
  } catch (e) {
    return { diagnostics: [problem('', `is not a valid ${label} definition: ${(e as Error).message}`)] };
  }
  if (!result.valid) {
    const located = await locateErrors(data, result.errors.map((e) => e.message));
    const more = result.additionalErrors > 0 ? ` (and ${result.additionalErrors} more)` : '';
    return { diagnostics: located.map(({ pointer, message }, k) => problem(pointer, `is not a valid ${label} definition: ${message}${k === located.length - 1 ? more : ''}`)) };
  }

  if (resources.length === 0) diagnostics.push(problem('/paths', 'lists no operation: every request to the API is refused with 404 until it does', 'warning'));
  return { definition: { specification: label, resources, ignored }, diagnostics };
}

/**
 * A copy for the parser, whose check of the paths' leading / refuses x- extensions under paths,
 * which both specifications allow. Taken out of the copy, not the file: their lines do not move
 * anything the error frames point at (the frames are of the copy, mapped back through it).
 */
function forTheParser(data: Record<string, unknown>): unknown {
  const copy = structuredClone(data);
  if (isRecord(copy.paths)) copy.paths = Object.fromEntries(Object.entries(copy.paths).filter(([key]) => !key.startsWith('x-')));
  return copy;
}

function specificationOf(data: unknown): { readonly name: 'OpenAPI' | 'Swagger'; readonly version: string } | undefined {
  if (!isRecord(data)) return undefined;
  if (typeof data.openapi === 'string' && /^3\.[01]\.\d+$/.test(data.openapi)) return { name: 'OpenAPI', version: data.openapi };
  if (data.swagger === '2.0') return { name: 'Swagger', version: '2.0' };
  return undefined;
}

/** Every $ref that names something other than a place in this document (#/…). */
function externalRefs(data: unknown): { readonly pointer: string; readonly ref: string }[] {
  const found: { pointer: string; ref: string }[] = [];
  const walk = (node: unknown, segments: PathSegment[]): void => {
    if (Array.isArray(node)) node.forEach((child, k) => walk(child, [...segments, k]));
    else if (isRecord(node)) {
      for (const [key, child] of Object.entries(node)) {
        if (key === '$ref' && typeof child === 'string' && !child.startsWith('#')) found.push({ pointer: toPointer([...segments, key]), ref: child });
        else walk(child, [...segments, key]);
      }
    }
  };
  walk(data, []);
  return found;
}

/** What the definition says of where it is served: listed, never used for routing. */
function servedAt(data: Record<string, unknown>): string[] {
  const said: string[] = [];
  if (typeof data.host === 'string') said.push(`host ${data.host}`);
  if (typeof data.basePath === 'string') said.push(`basePath ${data.basePath}`);
  if (Array.isArray(data.servers)) {
    const urls = data.servers.flatMap((server) => (isRecord(server) && typeof server.url === 'string' ? [server.url] : []));
    if (urls.length > 0) said.push(`servers ${urls.join(', ')}`);
  }
  return said;
}

/** A path item, through a $ref of this document to one (OpenAPI 3.1 allows them). */
function pathItemOf(data: unknown, item: unknown): Record<string, unknown> {
  for (let hops = 0; isRecord(item) && typeof item.$ref === 'string' && hops < 8; hops++) item = resolveLocal(data, item.$ref);
  return isRecord(item) ? item : {};
}

function resolveLocal(data: unknown, ref: string): unknown {
  let node = data;
  for (const segment of fromPointer(decodeURIComponent(ref.slice(1)))) node = isRecord(node) || Array.isArray(node) ? (node as Record<string, unknown>)[segment] : undefined;
  return node;
}

/**
 * A definition's path template as the allow-list matches it. A segment that is a parameter in
 * part (/files/{name}.json) matches the whole segment, and says so; a trailing / is kept (the
 * matcher reads it as an empty last segment).
 */
function routingTemplate(template: string): { readonly path: string; readonly widened: boolean } | { readonly problem: string } {
  if (!template.startsWith('/')) return { problem: 'does not start with /' };
  const trailing = template.length > 1 && template.endsWith('/');
  const body = trailing ? template.slice(0, -1) : template;
  let widened = false;
  const names = new Set<string>();
  const segments = body === '/' ? [] : body.slice(1).split('/');
  const rewritten = segments.map((segment, k) => {
    if (!segment.includes('{')) return segment;
    const whole = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(segment);
    if (whole && !names.has(whole[1]!)) {
      names.add(whole[1]!);
      return segment;
    }
    if (!/^\{[^{}]+\}$/.test(segment)) widened = true;
    const name = `p${k + 1}`;
    names.add(name);
    return `{${name}}`;
  });
  const path = rewritten.length === 0 ? '/' : `/${rewritten.join('/')}`;
  const problem = templateProblem(path);
  if (problem) return { problem };
  return { path: trailing ? `${path}/` : path, widened };
}

// ------------------------------------------------------------- where a schema error is

/**
 * The parser's messages with the place each is about. Its schema errors quote the definition,
 * dereferenced and printed as JSON with two spaces, around the line they are about (`>  9 |`);
 * that line is found in the same printing, done here, and traced back to the node of the file,
 * or to the $ref that brought it in. A message without a frame is about the whole file.
 */
async function locateErrors(data: Record<string, unknown>, messages: readonly string[]): Promise<{ pointer: string; message: string }[]> {
  let lines: readonly (string | undefined)[] | undefined;
  const printed = async (): Promise<readonly (string | undefined)[]> => {
    if (lines) return lines;
    try {
      lines = linePointers(await dereference(forTheParser(data) as never, { ...PARSER_OPTIONS, dereference: { circular: 'ignore' } }));
    } catch {
      lines = [];
    }
    return lines;
  };
  const located: { pointer: string; message: string }[] = [];
  for (const raw of messages) {
    const frameLine = /^>\s*(\d+) \|/m.exec(raw);
    const hint = /^\s*\|\s*\^+ (.+?)!?$/m.exec(raw)?.[1];
    const first = raw.split('\n')[0]!.replace(/^[A-Z][A-Z ]*?\s+(?=[a-z$'"`])/, '').trim();
    // The hint repeats a missing property's name; it names an unexpected one.
    const message = hint && !first.startsWith('must have required property') ? `${first}: ${hint}` : first;
    const pointer = frameLine ? (await printed())[Number(frameLine[1])] : undefined;
    located.push({ pointer: pointer === undefined ? '' : throughRefs(data, pointer), message: pointer ? `${message} (at ${displayPointer(data, throughRefs(data, pointer)) || 'the top'})` : message });
  }
  return located;
}

/** The pointer of each line (1-based) of JSON.stringify(value, null, 2). */
export function linePointers(value: unknown): (string | undefined)[] {
  const lines: (string | undefined)[] = [undefined];
  const walk = (node: unknown, pointer: string): void => {
    lines.push(pointer); // the line the node starts on (after its key)
    if (Array.isArray(node)) {
      if (node.length === 0) return;
      node.forEach((child, k) => walk(child === undefined || typeof child === 'function' ? null : child, childPointer(pointer, k)));
      lines.push(pointer); // ]
    } else if (isRecord(node)) {
      const entries = Object.entries(node).filter(([, child]) => child !== undefined && typeof child !== 'function');
      if (entries.length === 0) return;
      for (const [key, child] of entries) walk(child, childPointer(pointer, key));
      lines.push(pointer); // }
    }
  };
  walk(value, '');
  return lines;
}

/**
 * A pointer into the dereferenced definition, as a pointer into the file: it stops at the $ref
 * that brought the node in, since the node is written there in the file only by reference.
 */
function throughRefs(data: unknown, pointer: string): string {
  const segments: string[] = [];
  let node = data;
  for (const segment of fromPointer(pointer)) {
    if (isRecord(node) && typeof node.$ref === 'string') return toPointer([...segments, '$ref']);
    node = isRecord(node) || Array.isArray(node) ? (node as Record<string, unknown>)[segment] : undefined;
    segments.push(segment);
  }
  return toPointer(segments);
}

