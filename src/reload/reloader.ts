// Live reload (docs/reload.md). A reload runs the same pipeline as boot (read → parse → validate
// → compile; in a worker thread, see config-loader.ts), opens the next snapshot beside the running
// one (reusing every pool whose key did not change), optionally handshakes the endpoints whose
// connections changed, and only then swaps the holder's one reference. Any failure leaves the
// running snapshot serving, untouched.
//
// Timing: changes seen by the watcher are applied at most once per reload.interval; reloadNow()
// (SIGHUP, POST /reload) applies at once. One reload runs at a time; each reads the files as they
// are when it starts, so the latest state wins and a burst of changes collapses into one reload.
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { Environment } from '../config/interpolate.js';
import { changeSummary, diffCompiled } from '../config/diff.js';
import type { ConfigChanges } from '../config/diff.js';
import { inventoryDigestOf } from '../config/summary.js';
import { formatAddress } from '../config/address.js';
import { locateInConfig } from '../config/load.js';
import type { GatewayConfig, ListenAddress } from '../config/types.js';
import { targetsOf, isPending } from '../config/usage.js';
import { displayPath, formatDiagnostic, hasErrors } from '../diagnostics.js';
import type { Diagnostic } from '../diagnostics.js';
import type { Logger } from '../log.js';
import type { SnapshotHolder } from '../snapshot/holder.js';
import { openSnapshot, retireSnapshot } from '../snapshot/snapshot.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { WorkerConfigLoader } from './config-loader.js';
import { preflight } from './preflight.js';

/** How long a rejected reload waits for the watcher before it reports (see #reloadSettled). */
const SETTLE_MS = 150;
const MAX_ATTEMPTS = 3;

export type ReloadOutcome =
  | {
      readonly kind: 'applied';
      readonly reason: string;
      readonly generation: number;
      readonly revision: string;
      readonly changes: ConfigChanges;
      readonly pools: { readonly kept: number; readonly opened: number; readonly retired: number };
      readonly diagnostics: readonly Diagnostic[];
      readonly durationMs: number;
      /**
       * When each step ended, in ms from the start: the files loaded (in the worker thread), the
       * next snapshot opened, every worker prepared (with workers), the swap. For a slow reload,
       * they say which step to look at.
       */
      readonly stepsMs: { readonly loaded: number; readonly opened: number; readonly prepared: number; readonly swapped: number };
    }
  | { readonly kind: 'rejected'; readonly reason: string; readonly diagnostics: readonly Diagnostic[]; readonly durationMs: number }
  | { readonly kind: 'unchanged'; readonly reason: string; readonly durationMs: number };

export interface ReloaderOptions {
  readonly configPath: string;
  readonly env: Environment;
  readonly logger: Logger;
  readonly holder: SnapshotHolder;
  /** `gatehouse run --workers N`: the file's listen.workers is not what runs. */
  readonly workersFromFlag?: boolean;
  /** The workers that must all prepare a reload before any serves it (listen.workers > 1). */
  readonly participants?: ReloadParticipants;
  /** Warning codes left out of the log after an applied reload (the gateway logs certificate expiry itself). */
  readonly quietCodes?: ReadonlySet<string>;
}

/**
 * The processes that serve a snapshot besides this one (the workers). A reload is applied by all
 * or by none: each opens the next snapshot beside its running one and says it is ready (prepare
 * resolves with undefined) or why not (a sentence); then all swap (commit) or all drop it (discard).
 */
export interface ReloadParticipants {
  prepare(next: Snapshot): Promise<string | undefined>;
  commit(next: Snapshot): void;
  discard(next: Snapshot): void;
}

interface ReloaderEvents {
  applied: [ReloadOutcome & { kind: 'applied' }];
  rejected: [ReloadOutcome & { kind: 'rejected' }];
  unchanged: [ReloadOutcome & { kind: 'unchanged' }];
  /** Pools of a replaced snapshot were closed (their requests in flight had ended, or the deadline passed). */
  retired: [{ generation: number; pools: number }];
}

export class Reloader extends EventEmitter<ReloaderEvents> {
  readonly #options: ReloaderOptions;
  readonly #loader: WorkerConfigLoader;
  #pending = false;
  #timer: NodeJS.Timeout | undefined;
  #queued: Promise<ReloadOutcome> | undefined;
  #running: Promise<ReloadOutcome> | undefined;
  #lastRunAt = performance.now();
  #closed = false;
  /** How many changes the watcher has reported: a reload compares it before and after reading. */
  #changes = 0;
  /** The outcome of the last reload, whatever it was, for /status: what is true of the files now. */
  last: (ReloadOutcome & { readonly at: Date }) | undefined;
  /** The last reload rejected, kept after later reloads: when and why. */
  lastRejected: (ReloadOutcome & { readonly kind: 'rejected'; readonly at: Date }) | undefined;

  constructor(options: ReloaderOptions) {
    super();
    this.#options = options;
    // The watcher runs in the reload's worker thread with the loads (see config-loader.ts).
    this.#loader = new WorkerConfigLoader({
      onChange: () => this.changed(),
      onError: (error) => options.logger.error({ err: error.message }, 'file watcher error: changes may be missed until the next SIGHUP or POST /reload'),
      onLost: (message, details) => options.logger.warn(details, message),
      onBack: (message, details) => options.logger.info(details, message),
    });
    this.#loader.prepare(options.holder.current.config);
  }

  /** Starts watching the configuration and certificates of the running snapshot. */
  async start(): Promise<void> {
    await this.#loader.watch(this.#targets(this.#options.holder.current.config));
  }

  /** A watched file changed: reload at the next interval boundary. */
  changed(): void {
    if (this.#closed) return;
    this.#changes++;
    this.#pending = true;
    this.#schedule();
  }

  /** Reloads at once (after the reload already running, if any). */
  reloadNow(reason: string): Promise<ReloadOutcome> {
    if (this.#queued) return this.#queued; // it has not started: it will read the latest files
    const run = async (): Promise<ReloadOutcome> => {
      await this.#running;
      this.#queued = undefined;
      this.#pending = false;
      const running = this.#reloadSettled(reason);
      this.#running = running;
      try {
        return await running;
      } finally {
        this.#running = undefined;
        this.#lastRunAt = performance.now();
        if (this.#pending) this.#schedule();
      }
    };
    this.#queued = run();
    return this.#queued;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#running?.catch(() => undefined);
    await this.#loader.close();
  }

  #schedule(): void {
    if (this.#timer || this.#running || this.#queued || this.#closed) return;
    const interval = this.#options.holder.current.config.reload.intervalMs;
    const delay = Math.max(0, this.#lastRunAt + interval - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#pending) void this.reloadNow('files changed');
    }, delay);
  }

  #targets(config: GatewayConfig) {
    return { configFile: path.resolve(this.#options.configPath), certsDirectory: config.certs.directory, files: readFiles(config) };
  }

  /**
   * One reload, reported once. A reload that read a file while it was being written (an editor, a
   * shell's `>`, `writeFileSync` truncate it first, then write) may reject what is only half a
   * file: that rejection is not news, the file's next state is. So a rejected reload waits for the
   * watcher (SETTLE_MS: a write's events, and their repeat 70 ms later, have arrived by then) and,
   * when a watched file changed since it began reading, reads the files again (up to
   * MAX_ATTEMPTS) before it reports anything. A rejection of files that stay put costs SETTLE_MS.
   */
  async #reloadSettled(reason: string): Promise<ReloadOutcome> {
    for (let attempt = 1; ; attempt++) {
      const changesBefore = this.#changes;
      const outcome = await this.#reloadOnce(reason);
      if (outcome.kind === 'rejected' && attempt < MAX_ATTEMPTS && !this.#closed) {
        await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
        if (this.#changes !== changesBefore) {
          this.#options.logger.debug({ reason, attempt, errors: outcome.diagnostics.filter((d) => d.severity === 'error').map((d) => formatDiagnostic(d)) }, 'the files changed while they were read: reading them again');
          this.#pending = false;
          continue;
        }
      }
      this.#report(outcome);
      return outcome;
    }
  }

  async #reloadOnce(reason: string): Promise<ReloadOutcome> {
    const { holder } = this.#options;
    const started = performance.now();
    const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
    const current = holder.current;
    try {
      const { config, diagnostics } = await this.#loader.load(this.#options.configPath, this.#options.env, current.config);
      const loadedAt = elapsed();
      await yieldToRequests();
      const refused = config ? [...restartRequired(current.config, config, { workersFromFlag: this.#options.workersFromFlag === true }), ...(await withdrawnCertificates(current.config, config))] : [];
      if (!config || hasErrors(diagnostics) || refused.length > 0) {
        return { kind: 'rejected', reason, diagnostics: [...diagnostics, ...refused], durationMs: elapsed() };
      }
      if (config.revision === current.config.revision && sameInventory(current.config, config)) {
        return { kind: 'unchanged', reason, durationMs: elapsed() };
      }
      return await this.#apply(current, config, diagnostics, reason, elapsed, loadedAt);
    } catch (error) {
      return {
        kind: 'rejected',
        reason,
        diagnostics: [{ severity: 'error', code: 'CONFIG_READ', file: path.resolve(this.#options.configPath), message: `reload failed: ${(error as Error).message}` }],
        durationMs: elapsed(),
      };
    }
  }

  #report(outcome: ReloadOutcome): void {
    const { logger, holder } = this.#options;
    const current = holder.current;
    const { reason } = outcome;
    if (outcome.kind === 'rejected') {
      logger.error(
        { reason, generation: current.generation, errors: outcome.diagnostics.filter((d) => d.severity === 'error').map((d) => formatDiagnostic(d)), durationMs: outcome.durationMs },
        `configuration rejected; generation ${current.generation} keeps serving`,
      );
      this.last = this.lastRejected = { ...outcome, at: new Date() };
      this.emit('rejected', outcome);
    } else if (outcome.kind === 'unchanged') {
      // After a rejection, the files are back to what is served: say so, it is news.
      if (this.last?.kind === 'rejected') logger.info({ reason, generation: current.generation }, `the files match the configuration served again (generation ${current.generation})`);
      else logger.debug({ reason, durationMs: outcome.durationMs }, 'configuration unchanged');
      this.last = { ...outcome, at: new Date() };
      this.emit('unchanged', outcome);
    } else {
      for (const d of outcome.diagnostics) if (!this.#options.quietCodes?.has(d.code)) logger.warn({ code: d.code, file: displayPath(d.file), line: d.line, path: d.path }, formatDiagnostic(d));
      logger.info(
        { reason, generation: outcome.generation, revision: outcome.revision, changes: changeSummary(outcome.changes), pools: outcome.pools, durationMs: outcome.durationMs, stepsMs: outcome.stepsMs },
        'configuration applied',
      );
      this.last = { ...outcome, at: new Date() };
      this.emit('applied', outcome);
    }
    logger.flush();
  }

  async #apply(current: Snapshot, config: GatewayConfig, diagnostics: readonly Diagnostic[], reason: string, elapsed: () => number, loadedAt: number): Promise<ReloadOutcome> {
    const { logger, holder } = this.#options;
    await yieldToRequests();
    const next = openSnapshot(config, current.generation + 1, current);
    const openedAt = elapsed();
    await yieldToRequests();
    const opened = [...next.pools.keys()].filter((key) => !current.pools.has(key));
    const notes: Diagnostic[] = [...diagnostics];

    if (config.reload.preflight !== 'off') {
      const changed = [...next.endpoints.values()].flatMap((e) => e.targets).filter((t) => t.pool && opened.includes(t.poolKey));
      const failures = await preflight(changed);
      const enforce = config.reload.preflight === 'enforce';
      for (const failure of failures) {
        notes.push({
          severity: enforce ? 'error' : 'warning',
          code: 'RELOAD_PREFLIGHT',
          file: config.file,
          path: failure.target.config.path,
          message: `${failure.target.config.description}: the handshake with ${failure.target.config.origin} failed (${failure.code}): ${failure.hint}`,
        });
      }
      if (enforce && failures.length > 0) {
        // The new pools made no request yet; nothing else was touched.
        await Promise.all(opened.map((key) => next.pools.get(key)!.destroy()));
        return { kind: 'rejected', reason, diagnostics: notes, durationMs: elapsed() };
      }
    }

    const participants = this.#options.participants;
    const refusal = await participants?.prepare(next);
    const preparedAt = elapsed();
    if (refusal !== undefined) {
      participants!.discard(next);
      await Promise.all(opened.map((key) => next.pools.get(key)!.destroy()));
      notes.push({ severity: 'error', code: 'RELOAD_WORKER', file: config.file, message: `${refusal}; no worker serves it, generation ${current.generation} keeps serving everywhere` });
      return { kind: 'rejected', reason, diagnostics: notes, durationMs: elapsed() };
    }

    holder.swap(next);
    participants?.commit(next);
    const swappedAt = elapsed();
    await this.#loader.watch(this.#targets(config));
    await yieldToRequests();
    const retired = [...current.pools.keys()].filter((key) => !next.pools.has(key)).length;
    void retireSnapshot(current, next, config.listen.shutdownTimeoutMs).then(() => {
      if (retired > 0) logger.info({ generation: current.generation, pools: retired }, 'retired pools closed');
      this.emit('retired', { generation: current.generation, pools: retired });
    });
    return {
      kind: 'applied',
      reason,
      generation: next.generation,
      revision: config.revision,
      changes: diffCompiled(current.config, config),
      pools: { kept: next.pools.size - opened.length, opened: opened.length, retired },
      diagnostics: notes,
      durationMs: elapsed(),
      stepsMs: { loaded: loadedAt, opened: openedAt, prepared: preparedAt, swapped: swappedAt },
    };
  }
}

/**
 * Listener addresses are bound once, and the workers are started once: a configuration that moves
 * a listener or changes listen.workers is refused rather than half-applied, and says so. (The HTTPS listener's certificate, protocols and ciphers do reload.)
 */
export function restartRequired(running: GatewayConfig, next: GatewayConfig, { workersFromFlag = false } = {}): Diagnostic[] {
  const out: Diagnostic[] = [];
  const check = (where: string, before: ListenAddress | undefined, after: ListenAddress | undefined) => {
    const describe = (a: ListenAddress | undefined) => (a ? formatAddress(a) : 'none');
    if (describe(before) === describe(after)) return;
    out.push({
      severity: 'error',
      code: 'CONFIG_RESTART_REQUIRED',
      file: next.file,
      path: where,
      message: `is ${describe(after)} but the gateway listens on ${describe(before)}; a listener's address changes only with a restart (revert it to reload the rest, or restart the gateway)`,
    });
  };
  check('listen.http', running.listen.http, next.listen.http);
  check('listen.https.address', running.listen.https?.address, next.listen.https?.address);
  check('admin.address', running.admin.address, next.admin.address);
  // With --workers, the file's listen.workers is not what runs: editing it changes nothing.
  if (!workersFromFlag && String(running.listen.workers) !== String(next.listen.workers)) {
    out.push({
      severity: 'error',
      code: 'CONFIG_RESTART_REQUIRED',
      file: next.file,
      path: 'listen.workers',
      message: `is ${next.listen.workers} but was ${running.listen.workers} when the gateway started; the number of workers changes only with a restart (revert it to reload the rest, or restart the gateway)`,
    });
  }
  return out;
}

/**
 * A reload that would leave a running endpoint with none of the certificate files it trusts is
 * refused: a folder emptied, renamed or unmounted for a moment (or a file deleted while the
 * configuration still names it) must not turn every endpoint into 503 CERTIFICATE_PENDING and
 * count as applied. Aliases the configuration newly names are not "lost": their files may come
 * later. Trust is withdrawn by removing an alias from the configuration, not its file.
 */
export async function withdrawnCertificates(running: GatewayConfig, next: GatewayConfig): Promise<Diagnostic[]> {
  // An API that is the running configuration's own object (config/delta.ts) is unchanged: it lost nothing.
  const kept = new Set(running.apis);
  const changed = { apis: next.apis.filter((api) => !kept.has(api)) };
  if (changed.apis.length === 0) return [];
  const before = new Map(targetsOf(running).map((e) => [e.name, e]));
  const folder = displayPath(next.certs.directory, path.dirname(next.file));
  const out: Diagnostic[] = [];
  for (const endpoint of targetsOf(changed)) {
    const was = before.get(endpoint.name);
    if (!was || was.certificates.length === 0 || !isPending(endpoint)) continue;
    const lost = was.certificates.filter((file) => endpoint.certificateAliases.includes(file.alias));
    if (lost.length === 0) continue;
    const files = lost.map((file) => path.basename(file.path));
    const position = await locateInConfig(next.file, `${endpoint.pointer}/certificate`);
    out.push({
      severity: 'error',
      code: 'CERT_WITHDRAWN',
      file: next.file,
      ...position,
      path: `${endpoint.path}.certificate`,
      message: `${endpoint.description} would lose every certificate it trusts: ${files.join(', ')} ${files.length === 1 ? 'is' : 'are'} no longer in ${folder}/, and it would answer 503 CERTIFICATE_PENDING; the running configuration keeps serving. Restore the ${files.length === 1 ? 'file' : 'files'} (or the folder or its mount); to stop trusting this backend, remove the alias from the configuration instead`,
    });
  }
  return out;
}

/**
 * Lets the requests waiting on the main thread run between the steps of a reload: at 5,000 APIs
 * each step is a few milliseconds, all of them in one go were 40 to 70.
 */
const yieldToRequests = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The same files in the certificates folder: the same objects (see config/delta.ts), or the same digest. */
function sameInventory(a: GatewayConfig, b: GatewayConfig): boolean {
  if (a.inventory.length === b.inventory.length && a.inventory.every((file, i) => file === b.inventory[i])) return true;
  return inventoryDigestOf(a.inventory) === inventoryDigestOf(b.inventory);
}

/** The files besides the configuration and the certificates that a load reads: watched like them. */
function readFiles(config: GatewayConfig): { path: string; name: string }[] {
  const files = config.keys ? [{ path: config.keys.file, name: 'the keys file' }] : [];
  for (const api of config.apis) {
    const jwks = api.security?.jwt?.jwks;
    if (jwks?.kind === 'file' && !files.some((f) => f.path === jwks.file)) files.push({ path: jwks.file, name: 'a JWKS file' });
    const definition = api.resourcesFrom?.file;
    if (definition && !files.some((f) => f.path === definition)) files.push({ path: definition, name: 'an OpenAPI definition' });
  }
  return files;
}
