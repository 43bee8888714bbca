// Kept manifests answered from memory (issue 11, item 4). Every manifest request asked the store twice:
// stat (is it still kept, how big) and readAll (open, fstat, read, close) — five thread-pool round trips,
// measured at about half of the mirror's CPU per `GET manifests/<tag>` with `Connection: close`, more
// than the new TCP connection itself. Manifests are small and immutable by digest, so the bytes this
// process read or kept are remembered, within a byte budget, least recently used out first.
//
// A view of the store for the manifest cache alone: blobs never go through readAll or put. What is
// remembered was read from the store or kept by put(), which checks it against its digest, so it is
// always the right content for its digest. Eviction in this process forgets it (forget()); removal by
// another process (a worker or replica evicting) does not, and the bytes are served from here until
// they fall out of the budget: still the verified content the client asked for.

import type { Digest } from '../reference.ts';
import type { BlobStat, BlobStore } from '../storage/blob-store.ts';
import { storeView } from '../storage/store-view.ts';

/** Bytes of manifests held at once: thousands of typical ones (a few KiB each). */
export const MANIFEST_MEMO_BYTES = 16 * 1024 * 1024;

export class ManifestMemo {
  readonly store: BlobStore;
  private readonly maxBytes: number;
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;

  constructor(store: BlobStore, maxBytes = MANIFEST_MEMO_BYTES) {
    this.maxBytes = maxBytes;
    const stat = async (digest: Digest): Promise<BlobStat | undefined> => {
      const kept = this.get(digest);
      return kept ? { size: kept.length } : store.stat(digest);
    };
    const readAll = async (digest: Digest): Promise<Buffer | undefined> => {
      const kept = this.get(digest);
      if (kept) return kept;
      const bytes = await store.readAll(digest);
      if (bytes) this.remember(digest, bytes);
      return bytes;
    };
    const put = async (digest: Digest, bytes: Buffer): Promise<void> => {
      await store.put(digest, bytes);
      this.remember(digest, bytes);
    };
    const remove = async (digest: Digest): Promise<void> => {
      this.forget(digest);
      await store.remove(digest);
    };
    this.store = storeView(store, { stat, readAll, put, remove });
  }

  /** Drops a digest (evicted or removed): the next request asks the store again. */
  forget(digest: Digest): void {
    const kept = this.entries.get(digest.text);
    if (!kept) return;
    this.entries.delete(digest.text);
    this.bytes -= kept.length;
  }

  private get(digest: Digest): Buffer | undefined {
    const kept = this.entries.get(digest.text);
    if (kept) {
      // Most recently used last: the Map's order is the eviction order.
      this.entries.delete(digest.text);
      this.entries.set(digest.text, kept);
    }
    return kept;
  }

  private remember(digest: Digest, bytes: Buffer): void {
    // One huge manifest must not push out hundreds of ordinary ones.
    if (bytes.length > this.maxBytes / 8) return;
    this.forget(digest);
    this.entries.set(digest.text, bytes);
    this.bytes += bytes.length;
    for (const [text, kept] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(text);
      this.bytes -= kept.length;
    }
  }
}
