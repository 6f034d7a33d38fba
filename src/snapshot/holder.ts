// The one place the current snapshot lives. A request reads `current` once and keeps what it
// read; a reload calls swap() — one assignment — and whatever must follow a swap outside the
// request path (the listeners' own TLS and client limits, the expiry lines) subscribes to
// 'swapped' instead of being written into the swap.
import { EventEmitter } from 'node:events';
import type { Snapshot } from './snapshot.js';

interface HolderEvents {
  swapped: [next: Snapshot, previous: Snapshot];
}

export class SnapshotHolder extends EventEmitter<HolderEvents> {
  #current: Snapshot;

  constructor(initial: Snapshot) {
    super();
    this.#current = initial;
  }

  /** The snapshot every new request reads. */
  get current(): Snapshot {
    return this.#current;
  }

  /** Makes `next` the snapshot of every new request; requests in flight keep theirs. */
  swap(next: Snapshot): void {
    const previous = this.#current;
    this.#current = next;
    this.emit('swapped', next, previous);
  }
}
