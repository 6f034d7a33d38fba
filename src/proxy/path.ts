// Request paths, normalized before routing (docs/http.md): what is routed, checked against the
// resources allow-list and sent to the backend is one and the same path, so that `..`, `%2e%2e`,
// `//` or an encoded slash can neither leave an API's context nor reach a resource the allow-list
// forbids. As Envoy's normalize_path + merge_slashes, and nginx's merge_slashes:
//
//   `.` and `..` segments are resolved (RFC 3986 §5.2.4); `..` above the root is refused;
//   a dot segment with parameters (`..;`, `.;x`, `..%3B`) is refused: Tomcat and Spring strip
//   the parameters and read `..`, which would take a path out of the resources allow-list;
//   runs of `/` become one;
//   encodings that a backend could decode into path structure are refused, not decoded:
//   %2F and %5C (slash, backslash), %2E (dot), %00 and control characters, a raw backslash, and
//   malformed escapes (`%zz`). Other escapes (%20, %C3%A9) pass through unchanged.
//
// Hot path: a path without '%', '\', '/.' or '//' (nearly all of them) is returned as is.

export type NormalizedPath = { readonly path: string } | { readonly refused: string };

// eslint-disable-next-line no-control-regex -- control characters are what is looked for
const SUSPICIOUS = /%|\\|\/\.|\/\/|[\x00-\x1f\x7f]/;
/** `.;…` and `..;…`, the `;` written or encoded. */
const DOT_WITH_PARAMETERS = /^\.\.?(?:;|%3[bB])/;
/** Escapes that decode to path structure, NUL, or are malformed. */
const FORBIDDEN_ESCAPE = /%(?:2[fFeE]|5[cC]|00|(?![0-9A-Fa-f]{2}))/;

export function normalizePath(raw: string): NormalizedPath {
  if (!SUSPICIOUS.test(raw)) return { path: raw };
  const escape = FORBIDDEN_ESCAPE.exec(raw);
  if (escape) {
    const sample = raw.slice(escape.index, escape.index + 3);
    return {
      refused: /^%[0-9A-Fa-f]{2}$/.test(sample)
        ? `the path holds ${sample}, an encoded slash, backslash, dot or NUL, which a backend could decode into another path (send the data in the query string or the body)`
        : `the path holds a malformed escape "${sample}"`,
    };
  }
  if (raw.includes('\\')) return { refused: 'the path holds a backslash' };
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\x00-\x1f\x7f]/.test(raw)) return { refused: 'the path holds a control character' };

  const out: string[] = [];
  const segments = raw.split('/');
  // segments[0] is '' (the path starts with '/'); empty segments from '//' are dropped.
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!;
    const last = i === segments.length - 1;
    if (segment === '.' || segment === '') {
      if (last) out.push(''); // "/a/." and "/a/" keep their trailing slash
      continue;
    }
    if (DOT_WITH_PARAMETERS.test(segment)) {
      return { refused: `the path holds "${segment.length > 20 ? `${segment.slice(0, 20)}...` : segment}", a dot segment with parameters, which servers such as Tomcat read as "${segment.startsWith('..') ? '..' : '.'}"` };
    }
    if (segment === '..') {
      if (out.length === 0) return { refused: 'the path climbs above the root with ..' };
      out.pop();
      if (last) out.push('');
      continue;
    }
    out.push(segment);
  }
  return { path: '/' + out.join('/') };
}
