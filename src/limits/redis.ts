// The connection to Redis of a rate-limit store: one node-redis client per process, which fails
// commands at once while it is disconnected, reconnects in the background, and says whether Redis
// answers (for /status, a log line, a metric). Nothing here holds a password in what it reports.
import { withoutPassword } from '../config/store-url.js';
import { createClient } from 'redis';
import type { LimitStoreState } from './types.js';

/** The longest between two attempts to reconnect: a Redis that returns is counting again within about this. */
export const MAX_BACKOFF_MS = 1_000;
/**
 * How often an idle or busy connection is asked PING, and how long a command (PING included) may
 * wait for its reply before it is failed. A Redis that stops answering without closing the
 * connection (frozen, or a network that drops packets) is thereby seen as unreachable within
 * about two seconds, and as reachable again at its next PONG.
 */
export const HEALTH_INTERVAL_MS = 1_000;
const CONNECT_TIMEOUT_MS = 2_000;

export type RedisClient = ReturnType<typeof createClient>;

export class RedisConnection {
  readonly client: RedisClient;
  /** The URL without its password. */
  readonly url: string;
  /** The password as written in the URL and as sent: an error message might repeat either. */
  readonly #secrets: readonly string[];
  readonly #onStateChange: ((state: LimitStoreState) => void) | undefined;
  #reachable = false;
  /** False until the first answer or failure: the first is told even when it is a failure. */
  #known = false;
  #since = new Date();
  #lastError: LimitStoreState['lastError'];
  #closed = false;

  constructor(url: URL, onStateChange?: (state: LimitStoreState) => void) {
    this.#secrets = url.password ? [decodeURIComponent(url.password), url.password] : [];
    this.url = withoutPassword(url);
    this.#onStateChange = onStateChange;
    this.client = createClient({
      url: url.href,
      // Commands fail at once while disconnected, instead of waiting in a queue for Redis to return.
      disableOfflineQueue: true,
      pingInterval: HEALTH_INTERVAL_MS,
      // A command whose reply does not come is failed even once written (rejectInFlight): this
      // frees a request's counting, and fails the PING that tells a silent Redis.
      commandOptions: { timeout: HEALTH_INTERVAL_MS, rejectInFlight: true },
      socket: {
        connectTimeout: CONNECT_TIMEOUT_MS,
        // 50 ms, doubling up to MAX_BACKOFF_MS, never giving up; jitter keeps the replicas and
        // workers from reconnecting all at once to a Redis that restarts.
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, MAX_BACKOFF_MS) + Math.floor(Math.random() * 50),
      },
    });
    // An 'error' without a listener would end the process: each is a failure of the connection
    // (refused, reset, a PING without answer); node-redis reconnects by itself.
    this.client.on('error', (error: unknown) => this.#set(false, error));
    this.client.on('ready', () => this.#set(true));
    this.client.on('ping-interval', () => this.#set(true));
    // connect() settles once connected; it rejects only when the client is closed first, or when the
    // URL is refused (an unknown database, say), which the 'error' listener has then been told too.
    this.client.connect().catch((error: unknown) => this.#set(false, error));
  }

  get reachable(): boolean {
    return this.#reachable;
  }

  /** Why the store cannot count now (while unreachable). */
  get why(): string {
    const last = this.#lastError?.message;
    return this.#known ? `${this.url} is unreachable${last ? `: ${last}` : ''}` : `${this.url}: connecting`;
  }

  /** Keeps a failure of a request's counting (its reply did not come in time) without changing whether Redis is reachable: the PINGs decide that. */
  failed(error: unknown): string {
    const message = this.describe(error);
    this.#lastError = { message, at: new Date() };
    return message;
  }

  /** An error's message with the password, if it came back in it, replaced. */
  describe(error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    return this.#secrets.reduce((text, secret) => text.replaceAll(secret, '***'), message);
  }

  state(): LimitStoreState {
    return { kind: 'redis', url: this.url, reachable: this.#reachable, since: this.#since, ...(this.#lastError && { lastError: this.#lastError }) };
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      // destroy(), not close(): close() waits for the replies of commands in flight, which a frozen
      // Redis never sends; each request's counting has had its answer already (the bounded wait).
      this.client.destroy();
    }
    return Promise.resolve();
  }

  #set(reachable: boolean, error?: unknown): void {
    if (this.#closed) return;
    const now = new Date();
    if (error !== undefined) this.#lastError = { message: this.describe(error), at: now };
    if (this.#known && reachable === this.#reachable) return;
    this.#known = true;
    this.#reachable = reachable;
    this.#since = now;
    this.#onStateChange?.(this.state());
  }
}

