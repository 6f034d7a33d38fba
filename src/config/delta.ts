// A compiled configuration crossing a thread or process boundary (the reload's worker thread to
// the main thread, the primary to its workers) as what changed: the APIs and certificate files
// the receiver already holds travel as their index in its configuration, the rest whole. The
// receiver then holds the very objects it held before for everything unchanged, so that the
// next steps (freezing, opening the snapshot, the diff for the log line) cost what changed, not
// the size of the configuration: at 5,000 APIs, a whole configuration cloned, frozen and
// summarized is a pause of a few hundred milliseconds on the thread that serves requests.
import { isDeepStrictEqual } from 'node:util';
import type { CertificateFile, KeyPairCredentials } from '../certs/types.js';
import { deepFreeze } from '../freeze.js';
import type { ApiConfig, GatewayConfig } from './types.js';

/** An entry of `base`, by its index there, or a new one. */
type Entry<T> = number | T;

export interface ConfigDelta {
  /** Everything but the APIs and the certificate files: a few small objects, always whole. */
  readonly rest: Omit<GatewayConfig, 'apis' | 'inventory'>;
  readonly apis: readonly Entry<ApiConfig>[];
  readonly inventory: readonly Entry<CertificateFile>[];
  /** How many entries the base had: a delta applied to another configuration is refused. */
  readonly baseSize?: { readonly apis: number; readonly inventory: number };
}

const apiKey = (api: ApiConfig): string => `${api.name}\0${api.version}`;

/**
 * `next` with every API and certificate file that is deep-equal to `base`'s replaced by `base`'s
 * own object. For a configuration just compiled (in the reload's worker thread), against the one
 * sent before; afterwards, "unchanged" is object identity.
 */
export function shareUnchanged(next: GatewayConfig, base: GatewayConfig): GatewayConfig {
  const baseFiles = new Map(base.inventory.map((file) => [file.path, file]));
  const inventory = next.inventory.map((file) => {
    const was = baseFiles.get(file.path);
    return was && same(was, file) ? was : file;
  });
  const baseApis = new Map(base.apis.map((api) => [apiKey(api), api]));
  const apis = next.apis.map((api) => {
    const was = baseApis.get(apiKey(api));
    return was && same(was, api) ? was : api;
  });
  return { ...next, apis, inventory };
}

/**
 * Objects found deep-equal before, next → base. Both are never modified, so it stays true; and a
 * load hands back the very objects of the load before for what it did not compile again
 * (config/compile.ts), which are then known equal without walking them.
 */
const equalTo = new WeakMap<object, object>();

function same(was: object, next: object): boolean {
  if (was === next || equalTo.get(next) === was) return true;
  if (!isDeepStrictEqual(was, next)) return false;
  equalTo.set(next, was);
  return true;
}

/** `next` relative to `base` (absent: everything whole). Unchanged means the same object (see shareUnchanged). */
export function encodeDelta(next: GatewayConfig, base?: GatewayConfig): ConfigDelta {
  const { apis, inventory, ...rest } = next;
  const indexOf = <T extends object>(list: readonly T[] | undefined): Map<T, number> => new Map((list ?? []).map((item, index) => [item, index]));
  const baseApis = indexOf(base?.apis);
  const baseFiles = indexOf(base?.inventory);
  return {
    rest,
    apis: apis.map((api) => baseApis.get(api) ?? api),
    inventory: inventory.map((file) => baseFiles.get(file) ?? file),
    ...(base ? { baseSize: { apis: base.apis.length, inventory: base.inventory.length } } : {}),
  };
}

/**
 * The configuration a delta describes, deep-frozen: entries of `base` are `base`'s objects
 * (frozen when they arrived), new entries are frozen here, with the listener's byte buffers, which a
 * structured clone turns into plain Uint8Arrays, made Buffers again.
 */
export function applyDelta(delta: ConfigDelta, base?: GatewayConfig): GatewayConfig {
  if (delta.baseSize && (!base || base.apis.length !== delta.baseSize.apis || base.inventory.length !== delta.baseSize.inventory)) {
    throw new Error('the configuration was sent as changes to another configuration than the one held');
  }
  const fresh: object[] = [];
  const resolve = <T extends object>(entry: Entry<T>, list: readonly T[] | undefined): T => {
    if (typeof entry !== 'number') {
      fresh.push(entry);
      return entry;
    }
    const item = list?.[entry];
    if (item === undefined) throw new Error(`the configuration refers to entry ${entry} of a configuration that has none`);
    return item;
  };
  const apis = Object.freeze(delta.apis.map((entry) => resolve(entry, base?.apis)));
  const inventory = Object.freeze(delta.inventory.map((entry) => resolve(entry, base?.inventory)));
  const credentials = delta.rest.listen.https?.credentials;
  if (credentials && !Object.isFrozen(credentials)) reviveBuffers(credentials);
  // Only what is new is frozen here (entries of base are already): walking 5,000 kept APIs to
  // find them frozen was a few milliseconds of the main thread per reload.
  const seen = new WeakSet<object>();
  for (const item of fresh) deepFreeze(item, seen);
  return Object.freeze({ ...deepFreeze(delta.rest, seen), apis, inventory });
}

const toBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function reviveBuffers(credentials: KeyPairCredentials): void {
  const writable = credentials as Record<string, unknown>;
  for (const key of ['cert', 'key', 'pfx'] as const) {
    const value = writable[key];
    if (value instanceof Uint8Array && !Buffer.isBuffer(value)) writable[key] = toBuffer(value);
  }
}
