// What a check of a request's credential concludes (security.ts, jwt.ts): the endpoint the
// credential's type chooses, or a refusal with its message. Built on refusals only are the strings.
import type { ApiRuntime, EndpointRuntime } from '../snapshot/snapshot.js';

/**
 * Who a credential says the caller is, as the access line names it: a key by its name, a token by
 * iss and sub. `subject` is what rate limits count the caller by (undefined for a token without
 * sub: then its client address); `plan` is a key's.
 */
export type Caller = { readonly apiKey: string; readonly plan?: string; readonly subject: string } | { readonly jwt: { readonly iss: string | undefined; readonly sub: string | undefined }; readonly subject: string | undefined };

export type Verdict =
  | { readonly kind: 'allowed'; readonly caller: Caller; readonly endpoint: EndpointRuntime }
  /** 401: no credential, or one that is not valid; `challenge` is the WWW-Authenticate value (one per credential the API takes). */
  | { readonly kind: 'unauthenticated'; readonly message: string; readonly challenge: readonly string[]; readonly caller?: Caller }
  /** 403: a valid credential that may not call this API, or a sandbox one where there is no sandbox. */
  | { readonly kind: 'forbidden'; readonly caller: Caller; readonly message: string }
  /** 503: the keys to check the credential with are not there (a jwks URL never fetched yet). */
  | { readonly kind: 'unavailable'; readonly message: string };

/** A credential's type chooses the endpoint: a sandbox one goes to sandbox, or nowhere (never to production). */
export function routeByType(api: ApiRuntime, sandbox: boolean, caller: Caller, what: string): Verdict {
  if (!sandbox) return { kind: 'allowed', caller, endpoint: api.production };
  if (!api.sandbox) return { kind: 'forbidden', caller, message: `${what}, and ${apiName(api)} has no sandbox endpoint (a sandbox credential is never sent to production)` };
  return { kind: 'allowed', caller, endpoint: api.sandbox };
}

// The messages and the challenge are built on a refusal only: an allowed request builds no string.
export function apiName(api: ApiRuntime): string {
  return `API "${api.config.name}" version ${api.config.version}`;
}
