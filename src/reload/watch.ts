// Watching the files a configuration is made of, with chokidar: the configuration file itself and
// the whole certificates folder, including Kubernetes' layout, where <alias>.crt links into
// ..data, itself a link swapped atomically to a new timestamped folder.
//
// The configuration file, not its folder: chokidar re-reads a watched folder on every event in it,
// and a log file written next to gateway.yaml (`gatehouse run > gateway.log`) made that cost 16 %
// of a core. Watching the file follows editors' rename-saves, deletion and re-creation (git
// checkout), and a ConfigMap's ..data swap behind a linked gateway.yaml (all measured).
//
// An event only says "something may have changed": the reloader reads the files and compares
// content hashes, so a duplicate, spurious or missed-then-repeated event is harmless.
import { watch } from 'chokidar';
import type { FSWatcher } from 'chokidar';

export interface WatchTargets {
  /** Absolute path of the configuration file. */
  readonly configFile: string;
  /** Absolute path of the certificates folder (it may not exist yet). */
  readonly certsDirectory: string;
}

export class ConfigWatcher {
  #watcher: FSWatcher | undefined;
  #targets: WatchTargets | undefined;

  constructor(
    private readonly onChange: (file: string) => void,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Starts watching, or moves the watch when the targets changed; resolves once ready. */
  async watch(targets: WatchTargets): Promise<void> {
    if (this.#targets && this.#targets.configFile === targets.configFile && this.#targets.certsDirectory === targets.certsDirectory) return;
    await this.close();
    this.#targets = targets;
    const watcher = watch([targets.configFile, targets.certsDirectory], {
      ignoreInitial: true,
      // Deep enough for Kubernetes' ..<timestamp>/<alias>.crt behind ..data.
      depth: 2,
    });
    watcher.on('all', (_event, file) => this.onChange(file));
    watcher.on('error', (error) => this.onError(error as Error));
    this.#watcher = watcher;
    await new Promise<void>((resolve) => watcher.once('ready', resolve));
  }

  async close(): Promise<void> {
    const watcher = this.#watcher;
    this.#watcher = undefined;
    this.#targets = undefined;
    await watcher?.close();
  }
}
