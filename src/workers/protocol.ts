// What the primary and its workers say to each other over node:cluster's IPC channel (with
// 'advanced' serialization: buffers and maps cross as they are). Each request that expects an
// answer carries an id, which the answer repeats. See docs/operations.md, "Workers".
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { ConfigDelta } from '../config/delta.js';
import type { JwksStatus } from '../admin/status.js';

/** How a worker logs: what the primary was told on its command line, decided once for all. */
export interface WorkerLogging {
  readonly pretty: boolean;
  readonly color: boolean;
  readonly level: string;
}

export type ToWorker =
  /** Start serving `config` (whole) as `generation`: open the snapshot, bind the listeners. */
  | { readonly type: 'boot'; readonly config: ConfigDelta; readonly generation: number; readonly logging: WorkerLogging; readonly reusePort: boolean }
  /**
   * Open the snapshot of `config` beside the running one; answer prepared or failed. `config` is
   * sent as changes to the configuration of generation `base`, the one every worker serves.
   */
  | { readonly type: 'prepare'; readonly id: number; readonly config: ConfigDelta; readonly base: number; readonly generation: number }
  /** Serve the snapshot prepared under `id` from now on. */
  | { readonly type: 'commit'; readonly id: number }
  /** Drop the snapshot prepared under `id`. */
  | { readonly type: 'discard'; readonly id: number }
  /** The gateway is about to stop (listen.shutdownDelay): responses close their connections. */
  | { readonly type: 'announce-stop' }
  /** Stop accepting, let requests in flight finish within `timeoutMs`, then exit 0. */
  | { readonly type: 'drain'; readonly timeoutMs: number }
  /** Close every connection now and exit. */
  | { readonly type: 'abort' }
  | { readonly type: 'metrics'; readonly id: number }
  | { readonly type: 'state'; readonly id: number };

export type FromWorker =
  /** The worker listens for messages: the primary may send boot. */
  | { readonly type: 'hello' }
  | { readonly type: 'listening'; readonly generation: number; readonly http: AddressLike; readonly https: AddressLike | undefined }
  /** Boot failed: a listener could not bind, the access log file could not be opened. */
  | { readonly type: 'boot-failed'; readonly kind: 'listen' | 'access-log' | 'other'; readonly key?: string; readonly message: string }
  | { readonly type: 'prepared'; readonly id: number }
  | { readonly type: 'prepare-failed'; readonly id: number; readonly message: string }
  /** Sent every LOAD_INTERVAL_MS: what the primary knows of a worker that dies without a word. */
  | { readonly type: 'load'; readonly inFlight: number }
  | { readonly type: 'drained'; readonly finished: boolean; readonly inFlight: number }
  | { readonly type: 'metrics'; readonly id: number; readonly metrics: MetricObjectWithValues<MetricValue<string>>[] }
  | { readonly type: 'state'; readonly id: number; readonly state: WorkerState };

export interface AddressLike {
  readonly address: string;
  readonly family: string;
  readonly port: number;
}

export interface WorkerState {
  readonly pid: number;
  readonly generation: number;
  readonly inFlight: number;
  /** WebSocket tunnels open on this worker. */
  readonly websocketTunnels: number;
  /** The targets of endpoint groups this worker does not send requests to: suspension is per process. */
  readonly suspendedTargets: readonly Record<string, unknown>[];
  /** The jwks URLs as this worker fetched them (each worker fetches its own). */
  readonly jwks: readonly JwksStatus[];
}

/** How often a worker tells the primary its requests in flight. */
export const LOAD_INTERVAL_MS = 500;

/** The variable that makes a process started by node:cluster a Gatehouse worker, holding its number. */
export const WORKER_VARIABLE = 'GATEHOUSE_WORKER';
