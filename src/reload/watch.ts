// Watching the files a configuration is made of, with chokidar: the configuration file's folder
// (editors save by writing a temporary file and renaming it over the original) and the whole
// certificates folder, including Kubernetes' layout, where <alias>.crt links into ..data, itself
// a link swapped atomically to a new timestamped folder.
//
// An event only says "something may have changed": the reloader reads the files and compares
// content hashes, so a duplicate, spurious or missed-then-repeated event is harmless.
import path from 'node:path';
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
    const configFolder = path.dirname(targets.configFile);
    const configName = path.basename(targets.configFile);
    const certs = targets.certsDirectory;
    const inCerts = (file: string) => file === certs || file.startsWith(certs + path.sep);
    const watcher = watch([configFolder, certs], {
      ignoreInitial: true,
      // Deep enough for Kubernetes' ..<timestamp>/<alias>.crt behind ..data.
      depth: 2,
      ignored: (file: string) => {
        if (file === configFolder || inCerts(file)) return false;
        if (path.dirname(file) !== configFolder) return true;
        // In the configuration's folder: the file itself, and Kubernetes' ..data links when the
        // configuration is a mounted ConfigMap.
        const name = path.basename(file);
        return name !== configName && !name.startsWith('..');
      },
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
