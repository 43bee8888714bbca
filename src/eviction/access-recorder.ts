// Records when a kept blob or manifest was last served, for least-recently-used eviction.
//
// The record is the file's own modification time, set with utimes() when it is served. Why the file and
// not the metadata store: it survives restarts with nothing else to persist; every replica sharing the
// volume sees every other's accesses without coordination; it is exactly as durable as the blob it
// describes (losing Redis loses no access history, and an evicted blob takes its record with it); and the
// sweeper has to stat every file anyway to learn its size, so the time comes for free. Why mtime and not
// atime: atime depends on mount options (noatime, relatime update it at most daily), mtime changes only
// when we say so — kept blobs are immutable, and a commit is a rename, which keeps the temp file's mtime
// (the moment it was written).
//
// It stays cheap: one utimes per blob per `throttleMs` at most (a busy layer served a thousand times a
// minute costs one syscall), fired after the answer, never awaited on the request path. Blobs being
// served by this process right now are also pinned in memory, so this process's sweeper skips them even
// for a download longer than the grace period.

import type { Logger } from '../logger.ts';
import type { Digest } from '../reference.ts';
import type { BlobStore } from '../storage/blob-store.ts';

/** Beyond this many remembered touches, the ones older than the throttle window are forgotten. */
const MAX_REMEMBERED = 50_000;

export class AccessRecorder {
  private readonly store: BlobStore;
  private readonly log: Logger;
  private readonly throttleMs: number;
  private readonly lastTouch = new Map<string, number>();
  private readonly pins = new Map<string, number>();
  private readonly pending = new Set<Promise<void>>();

  constructor(store: BlobStore, log: Logger, options: { throttleMs: number }) {
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
  }

  private forgetBefore(cutoff: number): void {
    for (const [digest, at] of this.lastTouch) if (at < cutoff) this.lastTouch.delete(digest);
  }
}
