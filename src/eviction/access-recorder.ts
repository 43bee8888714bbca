// Records when a kept blob or manifest was last served, for least-recently-used eviction.
//
// The record is the store's (BlobStore.touch: on the filesystem store, the file's own modification time —
// see filesystem-blob-store.ts for why), or the metadata store's for a store that cannot keep it (S3:
// persisted-access.ts). It stays cheap: one touch per blob per `throttleMs` at most (a
// busy layer served a thousand times a minute costs one syscall), fired after the answer, never awaited
// on the request path. Blobs being
// served by this process right now are also pinned in memory, so this process's sweeper skips them even
// for a download longer than the grace period.

import type { Logger } from '../logger.ts';
import type { Digest } from '../reference.ts';
import type { BlobStore } from '../storage/blob-store.ts';

/** Where uses are recorded: the store, or a view that keeps them in the metadata store (persisted-access.ts). */
export type AccessTarget = Pick<BlobStore, 'touch'> & { flush?(): Promise<void> };

/** Beyond this many remembered touches, the ones older than the throttle window are forgotten. */
const MAX_REMEMBERED = 50_000;

export class AccessRecorder {
  private readonly store: AccessTarget;
  private readonly log: Logger;
  private readonly throttleMs: number;
  private readonly lastTouch = new Map<string, number>();
  private readonly pins = new Map<string, number>();
  private readonly pending = new Set<Promise<void>>();

  constructor(store: AccessTarget, log: Logger, options: { throttleMs: number }) {
    this.store = store;
    this.log = log;
    this.throttleMs = options.throttleMs;
  }

  /** Notes that `digest` was served now (refreshes its place in the LRU order). */
  record(digest: Digest, now = Date.now()): void {
    const last = this.lastTouch.get(digest.text);
    if (last !== undefined && now - last < this.throttleMs) return;
    this.lastTouch.set(digest.text, now);
    if (this.lastTouch.size > MAX_REMEMBERED) this.forgetBefore(now - this.throttleMs);
    const touching = this.store
      .touch(digest, new Date(now))
      .then(
        () => undefined,
        (error: unknown) => this.log.warn({ err: error, digest: digest.text }, 'could not record blob access'),
      )
      .finally(() => this.pending.delete(touching));
    this.pending.add(touching);
  }

  /** Records an access and keeps `digest` from eviction here until the returned function is called. */
  pin(digest: Digest): () => void {
    this.record(digest);
    this.pins.set(digest.text, (this.pins.get(digest.text) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.pins.get(digest.text) ?? 1) - 1;
      if (left > 0) this.pins.set(digest.text, left);
      else this.pins.delete(digest.text);
    };
  }

  /** Digests being served by this process now. */
  pinned(): ReadonlySet<string> {
    return new Set(this.pins.keys());
  }

  /** Waits for touches in progress (before the store goes away). */
  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
    await this.store.flush?.();
  }

  private forgetBefore(cutoff: number): void {
    for (const [digest, at] of this.lastTouch) if (at < cutoff) this.lastTouch.delete(digest);
  }
}
