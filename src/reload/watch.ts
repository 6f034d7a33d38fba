// Watching the files a configuration is made of, with chokidar: the configuration file itself, the
// API keys file when there is one (watched as the configuration file is), and the whole
// certificates folder, including Kubernetes' layout, where <alias>.crt links into
// ..data, itself a link swapped atomically to a new timestamped folder.
//
// The configuration file, not its folder: chokidar re-reads a watched folder on every event in it,
// and a log file written next to gateway.yaml (`gatehouse run > gateway.log`) made that cost 16 %
// of a core. Watching the file follows editors' rename-saves and a ConfigMap's ..data swap behind
// a linked gateway.yaml (all measured).
//
// An event only says "something may have changed": the reloader reads the files and compares
// content hashes, so a duplicate, spurious or missed-then-repeated event is harmless.
//
// chokidar (5.0) loses a watch for good, and says nothing, when what it watches goes away (all
// measured on Linux):
// - the certificates folder renamed away, deleted or made unreadable: one `unlinkDir` for it,
//   then nothing, even once it is back;
// - the folder replaced by another one (mv certs certs.old; mv certs.new certs): it re-reads the
//   path once (`add`/`unlink` for the difference) but keeps watching the old folder, so later
//   drops go unseen; no event says so;
// - the configuration file's folder replaced: no event at all, from either watch;
// - the configuration file deleted and written again later: `unlink`, then nothing; deleted and
//   re-created at once (git checkout), the new file often gets the freed inode number, chokidar
//   takes it for the same file and keeps watching the deleted one.
// - a second `change` of a file within 50 ms of the first is dropped (chokidar's throttle, with
//   no trailing event): a file saved twice quickly, the second time after a reload read the first,
//   would be served stale until its next change. So every `change` is repeated once that window
//   is over (a reload of unchanged files swaps nothing).
// So once a second this module looks at each target itself (stat + access: a few system calls)
// and re-creates the chokidar watch when one is back, has another identity (device, inode, birth
// time: a reused inode number is born later), or was dropped by chokidar; then it calls onChange,
// so that a reload reads the files as they are now, including whatever changed unseen meanwhile.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { watch } from 'chokidar';
import type { FSWatcher } from 'chokidar';
import { describeFsError } from '../certs/read.js';

export interface WatchTargets {
  /** Absolute path of the configuration file. */
  readonly configFile: string;
  /** Absolute path of the certificates folder (it may not exist yet). */
  readonly certsDirectory: string;
  /**
   * Other files the configuration reads, watched like it: the API keys file (keys.file), the
   * JWKS files of security.jwt. `name` says which in log lines ("the keys file").
   */
  readonly files?: readonly { readonly path: string; readonly name: string }[];
}

function sameTargets(a: WatchTargets, b: WatchTargets): boolean {
  const files = (t: WatchTargets) => JSON.stringify(t.files ?? []);
  return a.configFile === b.configFile && a.certsDirectory === b.certsDirectory && files(a) === files(b);
}

/** What the watcher tells its owner. A message is one sentence for the log; details are its fields. */
export interface WatchCallbacks {
  /** A watched file changed, appeared or went away: reload. */
  onChange(file: string): void;
  /** chokidar reported an error: changes may be missed. */
  onError(error: Error): void;
  /** A target went away or became unreadable; it is looked for once a second. */
  onLost(message: string, details: { readonly path: string }): void;
  /** A target is back, or was replaced by another one: it is watched again (and onChange follows). */
  onBack(message: string, details: { readonly path: string }): void;
}

/** chokidar drops a file's `change` events for this long after one (FSWatcher._throttle). */
const CHOKIDAR_CHANGE_THROTTLE_MS = 50;

/** How often the targets are looked at: quick enough for a person at a shell, and a few system calls each time. */
export const CHECK_INTERVAL_MS = 1_000;

type Seen = { readonly ok: true; readonly identity: string } | { readonly ok: false; readonly problem: 'gone' | 'unreadable'; readonly reason: string };

interface Target {
  readonly path: string;
  /** "the certificates folder", "the configuration file" */
  readonly name: string;
  readonly kind: 'folder' | 'file';
  seen: Seen;
  /** chokidar emitted unlink/unlinkDir for the target itself: its watch on it is closed. */
  dropped: boolean;
}

export class ConfigWatcher {
  readonly #callbacks: WatchCallbacks;
  #watcher: FSWatcher | undefined;
  #targets: WatchTargets | undefined;
  #watched: Target[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** By path: the repeat of a `change`, after chokidar's throttle (see the top of this file). */
  readonly #repeats = new Map<string, NodeJS.Timeout>();
  /** watch(), close() and the periodic check run one at a time, in order. */
  #queue: Promise<void> = Promise.resolve();

  constructor(callbacks: WatchCallbacks) {
    this.#callbacks = callbacks;
  }

  /** Starts watching, or moves the watch when the targets changed; resolves once ready. */
  watch(targets: WatchTargets): Promise<void> {
    return this.#serially(async () => {
      const same = this.#targets;
      if (same && sameTargets(same, targets)) return;
      await this.#stop();
      this.#targets = targets;
      const target = async (file: string, name: string, kind: Target['kind']): Promise<Target> => ({ path: file, name, kind, seen: await look(file, kind), dropped: false });
      this.#watched = [await target(targets.configFile, 'the configuration file', 'file'), await target(targets.certsDirectory, 'the certificates folder', 'folder')];
      for (const file of targets.files ?? []) this.#watched.push(await target(file.path, file.name, 'file'));
      for (const watched of this.#watched) if (!watched.seen.ok) this.#sayLost(watched, watched.seen);
      await this.#open();
      this.#scheduleCheck();
    });
  }

  /** Stops watching; no timer is left behind. */
  close(): Promise<void> {
    return this.#serially(() => this.#stop());
  }

  #serially(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Watches the targets that are there; the check looks for the others. */
  async #open(): Promise<void> {
    const present = this.#watched.filter((target) => target.seen.ok).map((target) => target.path);
    // chokidar never reports ready for an empty list.
    if (present.length === 0) return;
    const watcher = watch(present, {
      ignoreInitial: true,
      // Deep enough for Kubernetes' ..<timestamp>/<alias>.crt behind ..data.
      depth: 2,
    });
    watcher.on('all', (event, file) => {
      if (event === 'unlink' || event === 'unlinkDir') {
        for (const target of this.#watched) if (target.path === file) target.dropped = true;
      }
      this.#callbacks.onChange(file);
      if (event === 'change') this.#repeatChange(file);
    });
    watcher.on('error', (error) => this.#callbacks.onError(error as Error));
    this.#watcher = watcher;
    await new Promise<void>((resolve) => watcher.once('ready', resolve));
  }

  #repeatChange(file: string): void {
    clearTimeout(this.#repeats.get(file));
    const repeat = setTimeout(() => {
      this.#repeats.delete(file);
      this.#callbacks.onChange(file);
    }, CHOKIDAR_CHANGE_THROTTLE_MS + 20);
    repeat.unref();
    this.#repeats.set(file, repeat);
  }

  async #stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const repeat of this.#repeats.values()) clearTimeout(repeat);
    this.#repeats.clear();
    this.#targets = undefined;
    this.#watched = [];
    await this.#closeWatcher();
  }

  async #closeWatcher(): Promise<void> {
    const watcher = this.#watcher;
    this.#watcher = undefined;
    await watcher?.close();
  }

  #scheduleCheck(): void {
    const targets = this.#targets;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#serially(async () => {
        if (this.#targets !== targets) return; // closed, or moved (with a timer of its own), meanwhile
        try {
          await this.#check();
        } catch (error) {
          this.#callbacks.onError(error as Error);
        }
        this.#scheduleCheck();
      });
    }, CHECK_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Looks at every target; re-creates the watch when one is back, was replaced, or was dropped by chokidar. */
  async #check(): Promise<void> {
    const rewatched: Target[] = [];
    for (const target of this.#watched) {
      const before = target.seen;
      const now = await look(target.path, target.kind);
      const dropped = target.dropped;
      target.seen = now;
      target.dropped = false;
      if (!now.ok) {
        if (before.ok) this.#sayLost(target, now);
      } else if (!before.ok) {
        rewatched.push(target);
        this.#callbacks.onBack(`${target.name} ${target.path} is back: watching it again`, { path: target.path });
      } else if (now.identity !== before.identity || dropped) {
        rewatched.push(target);
        // A configuration file with another identity is routine (every editor save, every
        // ConfigMap update) and chokidar usually follows it: watching it again costs one re-read
        // of the certificates folder, not worth a log line. A folder replaced is worth one.
        if (target.kind === 'folder') {
          const what = now.identity !== before.identity ? 'was replaced by another folder: watching the new one' : 'was gone or unreadable for a moment: watching it again';
          this.#callbacks.onBack(`${target.name} ${target.path} ${what}`, { path: target.path });
        }
      }
    }
    if (rewatched.length === 0) return;
    // Closed first: chokidar shares one fs.watch per path between its watchers, so a new watcher
    // opened beside the old one would join the old, dead, watch.
    await this.#closeWatcher();
    await this.#open();
    for (const target of rewatched) this.#callbacks.onChange(target.path);
  }

  #sayLost(target: Target, seen: Seen & { ok: false }): void {
    this.#callbacks.onLost(`${target.name} ${target.path} is ${seen.problem}: ${seen.reason}; watching for it to come back`, { path: target.path });
  }
}

/** Whether a target is there and readable by this process, and which file or folder it is. */
async function look(file: string, kind: Target['kind']): Promise<Seen> {
  try {
    const stats = await stat(file);
    if (kind === 'folder' && !stats.isDirectory()) return { ok: false, problem: 'gone', reason: 'it is a file, not a folder' };
    await access(file, kind === 'folder' ? constants.R_OK | constants.X_OK : constants.R_OK);
    return { ok: true, identity: `${stats.dev}:${stats.ino}:${stats.birthtimeMs}` };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, problem: code === 'EACCES' || code === 'EPERM' ? 'unreadable' : 'gone', reason: describeFsError(error) };
  }
}
