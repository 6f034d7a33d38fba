// Bearer JWTs (SPEC §11, RFC 6750, docs/security.md): verified with jose against the issuer's key
// set, with an allow-list of asymmetric algorithms (never none, never HMAC), the issuer, the
// audience, exp (required: a token that never expires is refused) and nbf with the clock
// tolerance. The token's key type claim (WSO2's keytype) chooses the endpoint as a key's type does.
// Claims are named in the access line only once the signature verified: iss and sub, never the token.
import { decodeProtectedHeader, errors, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import type { ApiRuntime, VerifiedToken } from '../snapshot/snapshot.js';
import { JwksUnavailableError } from '../snapshot/jwks.js';
import { apiName, routeByType } from './verdict.js';
import type { Caller, Verdict } from './verdict.js';

type JwtRuntime = NonNullable<ApiRuntime['jwt']>;

/** The token of an Authorization value, or why there is none ("Bearer" is case-insensitive: RFC 9110 §11.1). */
export function bearerToken(authorization: string): string | undefined {
  const space = authorization.indexOf(' ');
  if (space !== 6 || authorization.slice(0, 6).toLowerCase() !== 'bearer') return undefined;
  const token = authorization.slice(7).trim();
  return token === '' ? undefined : token;
}

/**
 * The verdict on `token`, presented to `api`: at once for a token that verified before with the
 * same keys and whose times still hold (snapshot/jwks.ts, VerifiedTokens), else once jose has
 * verified it. Never rejects: every failure is a verdict.
 */
export function checkJwt(api: ApiRuntime, jwt: JwtRuntime, token: string): Verdict | Promise<Verdict> {
  const version = jwt.keys.version();
  const known = jwt.verified.get(token, version);
  if (known) {
    // As jose checks them: whole seconds, with the tolerance.
    const now = Math.floor(Date.now() / 1000);
    const tolerance = jwt.config.clockToleranceS;
    if (known.exp > now - tolerance && (known.nbf === undefined || known.nbf <= now + tolerance)) return known.verdict as Verdict;
    // Expired since: verified again, for the refusal's message.
    jwt.verified.delete(token);
  }
  return verify(api, jwt, token, version);
}

async function verify(api: ApiRuntime, jwt: JwtRuntime, token: string, version: number): Promise<Verdict> {
  const { config } = jwt;
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, jwt.keys.getKey, {
      issuer: config.issuer,
      ...(config.audience ? { audience: config.audience as string[] } : {}),
      algorithms: config.algorithms as string[],
      clockTolerance: config.clockToleranceS,
      requiredClaims: ['exp'],
    }));
  } catch (e) {
    return refusal(api, jwt, token, e);
  }
  const caller = callerOf(payload);
  const verdict = routeByClaim(api, config.keyTypeClaim, payload, caller);
  // requiredClaims made exp a number.
  jwt.verified.set(token, version, { caller, verdict, exp: payload.exp!, nbf: payload.nbf });
  return verdict;
}

/** The token's key type claim chooses the endpoint; absent, the token is a production one. */
function routeByClaim(api: ApiRuntime, claim: string | undefined, payload: JWTPayload, caller: Caller): Verdict {
  const type = claim === undefined ? undefined : payload[claim];
  if (type === undefined) return routeByType(api, false, caller, '');
  const upper = typeof type === 'string' ? type.toUpperCase() : '';
  if (upper !== 'PRODUCTION' && upper !== 'SANDBOX') {
    return { kind: 'forbidden', caller, message: `the token's ${claim} claim is ${clip(JSON.stringify(type))}: it must be PRODUCTION or SANDBOX` };
  }
  return routeByType(api, upper === 'SANDBOX', caller, `the token's ${claim} claim is SANDBOX`);
}

/** The WWW-Authenticate of a request with no token (RFC 6750 §3: no error code then). */
export function bearerChallenge(api: ApiRuntime): string {
  return `Bearer realm="${quotable(api.config.name)}"`;
}

function callerOf(payload: JWTPayload): VerifiedToken['caller'] {
  const iss = clipped(payload.iss);
  const sub = clipped(payload.sub);
  // Built once per token verified (VerifiedTokens keeps it): iss and sub whole, as the issuer wrote them, for the count.
  return { jwt: { iss, sub }, subject: typeof payload.sub === 'string' ? `jwt:${payload.iss ?? ''} ${payload.sub}` : undefined };
}

/** What a token that does not verify gets: 401 with what is wrong, or 503 when there are no keys yet. */
function refusal(api: ApiRuntime, jwt: JwtRuntime, token: string, e: unknown): Verdict {
  if (e instanceof JwksUnavailableError) return { kind: 'unavailable', message: `${apiName(api)} verifies tokens with the keys of ${e.url}, which could not be fetched yet: ${e.message}` };
  const { config } = jwt;
  let message: string;
  // Signature verified, a claim refused: the caller is known.
  let caller: Caller | undefined;
  if (e instanceof errors.JWTExpired) {
    caller = callerOf(e.payload);
    message = `the token expired at ${dateOf(e.payload.exp)}`;
  } else if (e instanceof errors.JWTClaimValidationFailed) {
    caller = callerOf(e.payload);
    const got = e.payload[e.claim];
    if (e.reason === 'missing') message = e.claim === 'exp' ? 'the token has no exp claim: a token that never expires is refused' : `the token has no ${e.claim} claim`;
    else if (e.claim === 'nbf') message = `the token is not valid before ${dateOf(e.payload.nbf)}`;
    else if (e.claim === 'iss') message = `the token's issuer is ${clip(JSON.stringify(got))}, not "${config.issuer}"`;
    else if (e.claim === 'aud') message = `the token's audience is ${clip(JSON.stringify(got))}: it must be ${config.audience!.map((a) => `"${a}"`).join(' or ')}`;
    else message = `the token's ${e.claim} claim is refused: ${e.message}`;
  } else if (e instanceof errors.JWSSignatureVerificationFailed) {
    message = "the token's signature does not verify with the issuer's key";
  } else if (e instanceof errors.JOSEAlgNotAllowed) {
    message = `the token's algorithm ${clip(JSON.stringify(algorithmOf(token)))} is not accepted (accepted: ${config.algorithms.join(', ')})`;
  } else if (e instanceof errors.JWKSNoMatchingKey) {
    const kid = kidOf(token);
    message = `no key of the issuer's key set matches the token${kid !== undefined ? ` (kid ${clip(JSON.stringify(kid))})` : ''}`;
  } else if (e instanceof errors.JWKSMultipleMatchingKeys) {
    message = "the token names no kid, and several keys of the issuer's key set could have signed it";
  } else if (e instanceof errors.JOSEError) {
    message = `the token is not a valid JWT: ${e.message}`;
  } else {
    message = `the token cannot be verified: ${(e as Error).message}`;
  }
  const challenge = `Bearer realm="${quotable(api.config.name)}", error="invalid_token", error_description="${quotable(message)}"`;
  return { kind: 'unauthenticated', message, challenge: [challenge], ...(caller ? { caller } : {}) };
}

function algorithmOf(token: string): unknown {
  try {
    return decodeProtectedHeader(token).alg;
  } catch {
    return undefined;
  }
}

function kidOf(token: string): unknown {
  try {
    return decodeProtectedHeader(token).kid;
  } catch {
    return undefined;
  }
}

function dateOf(seconds: number | undefined): string {
  return seconds === undefined ? 'an unknown time' : new Date(seconds * 1000).toISOString();
}

function clip(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}...` : text;
}

function clipped(value: unknown): string | undefined {
  return typeof value === 'string' ? clip(value) : undefined;
}

/** A quoted-string of RFC 6750 §3: printable ASCII but " and \. */
function quotable(text: string): string {
  return text.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?');
}
