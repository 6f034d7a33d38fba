// Who may call (SPEC §11, docs/security.md): the credential of a request to a secured API, an API
// key checked against the snapshot's key ring or a bearer JWT checked against its issuer's keys
// (jwt.ts). Pure: the handler turns the verdict into a 401, a 403, a 503, or the endpoint the
// credential's type chooses. Messages to the client never hold the credential: the log names it.
import type { KeyRing } from '../config/keys.js';
import type { ApiRuntime } from '../snapshot/snapshot.js';
import { bearerChallenge, bearerToken, checkJwt } from './jwt.js';
import { apiName, routeByType } from './verdict.js';
import type { Verdict } from './verdict.js';

/**
 * The verdict on a request to a secured `api`: synchronous for an API key, a promise for a JWT
 * (its signature is checked by WebCrypto). One pass over the raw headers. An API that takes both
 * takes either, never both at once: which one would count is anyone's guess.
 */
export function checkCredentials(api: ApiRuntime, rawHeaders: readonly string[], ring: KeyRing | undefined): Verdict | Promise<Verdict> {
  const keyHeader = api.config.security?.apiKey?.header;
  const jwt = api.jwt;
  let key: string | undefined;
  let keys = 0;
  let authorization: string | undefined;
  let authorizations = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const field = rawHeaders[i]!;
    if (keyHeader !== undefined && field.length === keyHeader.length && field.toLowerCase() === keyHeader) {
      key = rawHeaders[i + 1]!;
      keys++;
    } else if (jwt && field.length === 13 && field.toLowerCase() === 'authorization') {
      authorization = rawHeaders[i + 1]!;
      authorizations++;
    }
  }
  if (keyHeader !== undefined && (keys > 0 || !jwt)) {
    if (authorizations > 0) return refuse(api, `the request has both an API key (${keyHeader}) and an Authorization header: send one credential`);
    return checkKey(api, keyHeader, key, keys, ring);
  }
  if (authorizations === 0) {
    return refuse(api, `${apiName(api)} requires ${keyHeader !== undefined ? `an API key in the ${keyHeader} header or ` : ''}a bearer token: Authorization: Bearer <token>`);
  }
  if (authorizations > 1) return refuse(api, 'the request has more than one Authorization header: send one token');
  const token = bearerToken(authorization!);
  if (token === undefined) return refuse(api, `the Authorization header holds no bearer token: ${apiName(api)} takes Authorization: Bearer <token>`);
  return checkJwt(api, jwt!, token);
}

/** An API key: one, of the keys file, for this API; its type chooses the endpoint, whatever else the request says. */
function checkKey(api: ApiRuntime, header: string, presented: string | undefined, count: number, ring: KeyRing | undefined): Verdict {
  if (count === 0 || presented === '') return refuse(api, `${apiName(api)} requires an API key in the ${header} header`);
  // Two keys: which one is meant is anyone's guess (as with two Host headers).
  if (count > 1) return refuse(api, `the request has more than one ${header} header: send one key`);
  const key = ring?.find(presented!);
  if (!key) return refuse(api, `the API key in the ${header} header is not valid`);
  const caller = key.caller;
  if (!key.apis.has(api.config.name)) return { kind: 'forbidden', caller, message: `this API key may not call ${apiName(api)}` };
  return routeByType(api, key.entry.type === 'sandbox', caller, 'this API key is a sandbox key');
}

/** A 401, whose WWW-Authenticate names every credential the API takes (RFC 9110 §11.6.1). */
function refuse(api: ApiRuntime, message: string): Verdict {
  const header = api.config.security?.apiKey?.header;
  const challenge: string[] = [];
  if (header !== undefined) challenge.push(`ApiKey realm="${api.config.name}", header="${header}"`);
  if (api.jwt) challenge.push(bearerChallenge(api));
  return { kind: 'unauthenticated', message, challenge };
}
