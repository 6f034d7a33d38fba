// Who may call (SPEC §11, docs/security.md): the API key of a request to a secured API, checked
// against the snapshot's key ring. Pure: the handler turns the verdict into a 401, a 403, or the
// endpoint the key's type chooses. Messages to the client never name the key: the log does.
import type { KeyRecord, KeyRing } from '../config/keys.js';
import type { ApiRuntime, EndpointRuntime } from '../snapshot/snapshot.js';

export type Verdict =
  | { readonly kind: 'allowed'; readonly key: KeyRecord; readonly endpoint: EndpointRuntime }
  /** 401: no credential, or one that is not a key of the keys file. */
  | { readonly kind: 'unauthenticated'; readonly message: string; readonly challenge: string }
  /** 403: a valid key that may not call this API, or a sandbox key where there is no sandbox. */
  | { readonly kind: 'forbidden'; readonly key: KeyRecord; readonly message: string };

/**
 * The verdict on a request to `api`, whose security requires a key in `header` (lower-cased).
 * One pass over the raw headers, for secured APIs only. The key's type chooses the endpoint,
 * whatever else the request says: a sandbox key never reaches production.
 */
export function checkApiKey(api: ApiRuntime, header: string, rawHeaders: readonly string[], ring: KeyRing | undefined): Verdict {
  let presented: string | undefined;
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const field = rawHeaders[i]!;
    if (field.length === header.length && field.toLowerCase() === header) {
      presented = rawHeaders[i + 1]!;
      count++;
    }
  }
  if (count === 0 || presented === '') return refuse(api, header, `${apiName(api)} requires an API key in the ${header} header`);
  // Two keys: which one is meant is anyone's guess (as with two Host headers).
  if (count > 1) return refuse(api, header, `the request has more than one ${header} header: send one key`);
  const key = ring?.find(presented!);
  if (!key) return refuse(api, header, `the API key in the ${header} header is not valid`);
  if (!key.apis.has(api.config.name)) return { kind: 'forbidden', key, message: `this API key may not call ${apiName(api)}` };
  if (key.entry.type === 'sandbox') {
    if (!api.sandbox) return { kind: 'forbidden', key, message: `this API key is a sandbox key, and ${apiName(api)} has no sandbox endpoint (a sandbox key is never sent to production)` };
    return { kind: 'allowed', key, endpoint: api.sandbox };
  }
  return { kind: 'allowed', key, endpoint: api.production };
}

// The messages and the challenge are built on a refusal only: an allowed request builds no string.
function apiName(api: ApiRuntime): string {
  return `API "${api.config.name}" version ${api.config.version}`;
}

function refuse(api: ApiRuntime, header: string, message: string): Verdict {
  return { kind: 'unauthenticated', message, challenge: `ApiKey realm="${api.config.name}", header="${header}"` };
}
