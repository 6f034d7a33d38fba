// JSON Web Key Sets (RFC 7517 §5) of JWT issuers (SPEC §11, docs/security.md): a file beside the
// configuration, or the body an https:// jwks URL answers. Checked here once per set, so that a
// request never meets a key that cannot verify: each key must import as a public key (node's
// crypto.createPublicKey reads JWKs); symmetric keys are refused (a shared secret published in a
// key set is no secret), and private key material is reported, as a key in certs/ is.
import { createPublicKey } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import type { Diagnostic } from '../diagnostics.js';
import { parseConfigText } from './parse.js';
import { isRecord } from './source-map.js';
import type { JsonWebKeySet } from './types.js';

/** The private members of RSA, EC and OKP keys (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'];

/**
 * The key set of a JWKS's text; `source` names it in the diagnostics (a file's path, or a URL).
 * JSON is YAML 1.2, so the YAML parser reads it and knows each key's line. The set only when
 * there is no error.
 */
export function parseJwks(text: string, source: string, code: 'JWKS_FILE' | 'JWKS_FETCH' = 'JWKS_FILE'): { readonly set?: JsonWebKeySet; readonly diagnostics: readonly Diagnostic[] } {
  const parsed = parseConfigText(text, source, 'yaml');
  if (!parsed.ok) return { diagnostics: parsed.diagnostics.map((d) => ({ ...d, code })) };
  const at = (pointer: string) => parsed.sourceMap.locate(pointer, 'value') ?? {};
  const problem = (severity: 'error' | 'warning', pointer: string, message: string): Diagnostic => ({ severity, code, file: source, ...at(pointer), message });
  const data: unknown = parsed.data;
  if (!isRecord(data) || !Array.isArray(data.keys)) {
    return { diagnostics: [problem('error', '', 'is not a JSON Web Key Set: expected an object with a "keys" list ({"keys": [...]}, what the issuer\'s jwks_uri serves)')] };
  }
  const diagnostics: Diagnostic[] = [];
  const keys = data.keys as unknown[];
  keys.forEach((key, index) => {
    const pointer = `/keys/${index}`;
    if (!isRecord(key)) return diagnostics.push(problem('error', pointer, `key ${index + 1} is not an object`));
    const name = `key ${index + 1}${typeof key.kid === 'string' ? ` (kid "${key.kid}")` : ''}`;
    if (key.kty === 'oct') return diagnostics.push(problem('error', pointer, `${name} is a symmetric key (kty "oct"): a key set holds public keys only; Gatehouse verifies asymmetric signatures (RS*, PS*, ES*, EdDSA)`));
    const secret = PRIVATE_MEMBERS.filter((member) => member in key);
    if (secret.length > 0) {
      // Named, never quoted: the value is the private key.
      diagnostics.push(problem('warning', pointer, `${name} holds private key material (${secret.join(', ')}): the gateway needs the public key only; publish the issuer's public JWKS and keep the private key with the issuer`));
    }
    try {
      createPublicKey({ key: key as JsonWebKey, format: 'jwk' });
    } catch (e) {
      diagnostics.push(problem('error', pointer, `${name} is not a usable public key: ${(e as Error).message}`));
    }
    return undefined;
  });
  if (keys.length === 0) diagnostics.push(problem('warning', '/keys', 'the key set is empty: every token is refused until it holds the issuer\'s keys'));
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  return { set: data as unknown as JsonWebKeySet, diagnostics };
}
