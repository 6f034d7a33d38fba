// The issuers' public keys at run time (SPEC §11, docs/security.md). A JWKS file's set is read
// with the configuration and is part of its revision: a new file is a new snapshot. An https://
// jwks URL is fetched by the gateway, through a pool built as an endpoint's is (its trust,
// verifier, protocols, timeouts), and refreshed: every jwksRefresh, and when a token names a kid
// the set does not hold (an issuer that rotated its keys), at most once per REFETCH_COOLDOWN_MS.
// A failed fetch keeps the last good set: the issuer being down must not log everybody out.
//
// Each process fetches for itself (workers too), as each checks its own health checks: the
// requests are few (one per refresh interval per URL) and no process depends on another.
import { createLocalJWKSet, errors } from 'jose';
import type { JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import type { Pool } from 'undici';
import { parseJwks } from '../config/jwks.js';
import type { JsonWebKeySet, JwksSource, JwksUrl } from '../config/types.js';
import { isPending } from '../config/usage.js';
import type { SnapshotHolder } from './holder.js';
import { openPool, poolKeyOf } from './snapshot.js';
import type { Snapshot } from './snapshot.js';

/** Tokens with a kid the set does not hold fetch it again at most this often (jose's own cooldown is 30 s). */
export const REFETCH_COOLDOWN_MS = 30_000;
/** Before the first good set, a failed fetch is tried again by the next token after this. */
const FIRST_FETCH_RETRY_MS = 5_000;
/** A JWKS larger than this is refused: a key set is a few kilobytes. */
const MAX_JWKS_BYTES = 1024 * 1024;

/** Where a token's key is found: what jose's jwtVerify calls with the token's header. */
export interface JwksKeys {
  readonly getKey: JWTVerifyGetKey;
  /** For an https:// URL: its fetches and their state. */
  readonly remote?: RemoteJwks;
  /** Changes when the set does (a URL fetched anew): tokens verified with an older set are verified again. */
  readonly version: () => number;
}

/** How many verified tokens an API remembers (Envoy's jwt_cache_config keeps 100 by default). */
export const VERIFIED_TOKENS = 1_000;

/**
 * What a token's verification concluded, kept by the token's text: a token seen again (a client
 * sends the same one until it expires) skips the signature, which costs 40-200 µs of CPU, and
 * only its times are checked again. Only tokens that verified are kept; an entry is kept for
 * the key set it was verified with. A new configuration is a new cache (a new snapshot's API).
 */
export class VerifiedTokens<T> {
  readonly #entries = new Map<string, { readonly version: number; readonly value: T }>();

  get(token: string, version: number): T | undefined {
    const entry = this.#entries.get(token);
    return entry?.version === version ? entry.value : undefined;
  }

  set(token: string, version: number, value: T): void {
    // The oldest entry goes first: a Map iterates in insertion order.
    if (this.#entries.size >= VERIFIED_TOKENS && !this.#entries.has(token)) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(token, { version, value });
  }

  delete(token: string): void {
    this.#entries.delete(token);
  }
}

/** No key set is held for the URL yet: the first fetches failed (503 JWKS_UNAVAILABLE). */
export class JwksUnavailableError extends Error {
  constructor(
    readonly url: string,
    reason: string,
  ) {
    super(`no key set of ${url} yet: ${reason}`);
    this.name = 'JwksUnavailableError';
  }
}

/** A source's identity: equal keys share the key set (and a URL's fetches) across APIs and snapshots. */
export function jwksKeyOf(source: JwksSource): string {
  return source.kind === 'file' ? `file\0${source.file}\0${source.sha256}` : `url\0${source.url}\0${source.refreshMs}\0${poolKeyOf(source.target)}`;
}

/** The keys of a source: a file's set, ready now; a URL's, fetched when started (or by the first token). */
export function openJwks(source: JwksSource): JwksKeys {
  if (source.kind === 'file') return { getKey: createLocalJWKSet(source.set as Parameters<typeof createLocalJWKSet>[0]), version: () => 0 };
  const remote = new RemoteJwks(source);
  return { getKey: remote.getKey, remote, version: () => remote.version };
}

/** What /status shows of a jwks URL. */
export interface RemoteJwksState {
  readonly url: string;
  /** ok: the last fetch succeeded; stale: it failed, and the set of fetchedAt serves; unavailable: no set yet. */
  readonly state: 'ok' | 'stale' | 'unavailable' | 'not-fetched';
  readonly keys: number;
  readonly fetchedAt?: string;
  readonly lastAttemptAt?: string;
  readonly lastError?: string;
}

export class RemoteJwks {
  readonly url: string;
  readonly #source: JwksUrl;
  #pool: Pool | undefined;
  #set: ReturnType<typeof createLocalJWKSet> | undefined;
  #keys = 0;
  /** Counts the sets fetched: see JwksKeys.version. */
  version = 0;
  #fetchedAt: number | undefined;
  #lastAttemptAt: number | undefined;
  #lastError: string | undefined;
  #unknownKidFetchAt = -Infinity;
  #inFlight: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #logger: Logger | undefined;
  #stopped = false;

  constructor(source: JwksUrl) {
    this.#source = source;
    this.url = source.url;
  }

  /** The key of a token's header: from the set held, fetched first when there is none, again when its kid is unknown. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (!this.#set) {
      await this.refresh(FIRST_FETCH_RETRY_MS);
      if (!this.#set) throw new JwksUnavailableError(this.url, this.#lastError ?? 'not fetched yet');
    }
    try {
      return await this.#set(header, token);
    } catch (e) {
      // The issuer may have rotated its keys since the last fetch: fetched again, at most once per cooldown
      // (tokens with made-up kids must not turn into requests to the issuer).
      if (!(e instanceof errors.JWKSNoMatchingKey) || Date.now() - this.#unknownKidFetchAt < REFETCH_COOLDOWN_MS) throw e;
      this.#unknownKidFetchAt = Date.now();
      const before = this.#set;
      await this.refresh(0);
      if (this.#set === before) throw e;
      return await this.#set(header, token);
    }
  };

  /** Fetches now and every refresh interval, logging to `logger` when a fetch fails and when it works again. */
  start(logger?: Logger): void {
    this.#logger = logger;
    if (this.#timer || this.#stopped) return;
    void this.refresh(0);
    this.#timer = setInterval(() => void this.refresh(0), this.#source.refreshMs).unref();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    void this.#pool?.close().catch(() => undefined);
  }

  /** Fetches the set unless one is being fetched or the last attempt is younger than `cooldownMs`. */
  refresh(cooldownMs: number): Promise<void> {
    if (this.#inFlight) return this.#inFlight;
    if (this.#lastAttemptAt !== undefined && Date.now() - this.#lastAttemptAt < cooldownMs) return Promise.resolve();
    this.#lastAttemptAt = Date.now();
    this.#inFlight = this.#fetch().finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  state(): RemoteJwksState {
    const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
    const fetched = iso(this.#fetchedAt);
    const attempted = iso(this.#lastAttemptAt);
    const state = this.#lastAttemptAt === undefined ? 'not-fetched' : !this.#set ? 'unavailable' : this.#lastError !== undefined ? 'stale' : 'ok';
    return {
      url: this.url,
      state,
      keys: this.#keys,
      ...(fetched ? { fetchedAt: fetched } : {}),
      ...(attempted ? { lastAttemptAt: attempted } : {}),
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
    };
  }

  async #fetch(): Promise<void> {
    let outcome: { set: JsonWebKeySet } | { error: string };
    try {
      outcome = await this.#download();
    } catch (e) {
      outcome = { error: (e as Error).message };
    }
    const log = this.#logger;
    const fields = { code: 'JWKS_FETCH', url: this.url };
    if ('error' in outcome) {
      const first = this.#lastError === undefined;
      this.#lastError = outcome.error;
      if (first && log) {
        const keeping = this.#set ? `; keeping the ${this.#keys} key(s) fetched at ${new Date(this.#fetchedAt!).toISOString()}` : '; tokens answer 503 JWKS_UNAVAILABLE until a fetch works';
        log.warn({ ...fields, error: outcome.error }, `cannot fetch the JWKS at ${this.url}: ${outcome.error}${keeping}`);
      }
      return;
    }
    const recovered = this.#lastError !== undefined;
    this.#set = createLocalJWKSet(outcome.set as Parameters<typeof createLocalJWKSet>[0]);
    this.#keys = outcome.set.keys.length;
    this.version++;
    this.#fetchedAt = Date.now();
    this.#lastError = undefined;
    if (recovered) log?.info({ ...fields, keys: this.#keys }, `the JWKS at ${this.url} is fetched again (${this.#keys} key(s))`);
  }

  async #download(): Promise<{ set: JsonWebKeySet } | { error: string }> {
    const target = this.#source.target;
    if (isPending(target)) return { error: `waiting for certificate alias "${target.pendingAliases.join('", "')}" in the certificates folder` };
    this.#pool ??= openPool(target);
    const response = await this.#pool.request({ path: target.basePath || '/', method: 'GET', headers: { accept: 'application/jwk-set+json, application/json', host: new URL(target.url).host } });
    if (response.statusCode !== 200) {
      await response.body.dump();
      return { error: `${target.url} answered ${response.statusCode}, not 200` };
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > MAX_JWKS_BYTES) {
        response.body.destroy();
        return { error: `the body passed ${MAX_JWKS_BYTES} bytes: not a key set` };
      }
      chunks.push(chunk);
    }
    const parsed = parseJwks(Buffer.concat(chunks).toString('utf8'), this.url, 'JWKS_FETCH');
    const problem = parsed.diagnostics.find((d) => d.severity === 'error');
    if (!parsed.set) return { error: problem ? `${problem.message}${problem.line ? ` (line ${problem.line})` : ''}` : 'not a key set' };
    return { set: parsed.set };
  }
}

/**
 * Starts the fetches of the jwks URLs the served snapshot uses, and stops those of URLs it no
 * longer uses (their last set goes on serving the requests of older snapshots still running).
 */
export class JwksRefresher {
  readonly #running = new Set<RemoteJwks>();
  readonly #logger: Logger | undefined;

  constructor(holder: SnapshotHolder, logger?: Logger) {
    this.#logger = logger;
    this.#follow(holder.current);
    holder.on('swapped', (next) => this.#follow(next));
  }

  #follow(snapshot: Snapshot): void {
    const wanted = new Set([...snapshot.jwks.values()].flatMap((keys) => (keys.remote ? [keys.remote] : [])));
    for (const remote of this.#running) {
      if (wanted.has(remote)) continue;
      remote.stop();
      this.#running.delete(remote);
    }
    for (const remote of wanted) {
      if (this.#running.has(remote)) continue;
      this.#running.add(remote);
      remote.start(this.#logger);
    }
  }

  stop(): void {
    for (const remote of this.#running) remote.stop();
    this.#running.clear();
  }
}
