// Tells the cache size what the store keeps and removes as it happens (issue 12, item 14: the status
// page said "0 B / 0 blobs" for up to 30 s after the first pull, until the next scan). A wrapper around
// whichever store the config chose, so no store implementation needs to know about observability:
// content becomes kept only through put() or a writer's persist()/commit(), and goes only through remove().

import type { Digest } from '../reference.ts';
import type { BlobStore, BlobWriter } from '../storage/blob-store.ts';
import { storeView } from '../storage/store-view.ts';

export interface StoreObserver {
  kept(digest: string, bytes: number): void;
  removed(digest: string, bytes: number): void;
}

export function observeBlobStore(store: BlobStore, observer: StoreObserver): BlobStore {
  // Each is counted only if it was not kept before: two writers of one digest both succeed (blob-store.ts).
  const keeping = async (digest: Digest, bytes: () => number, keep: () => Promise<void>): Promise<void> => {
    const before = await store.stat(digest);
    await keep();
    if (!before) observer.kept(digest.text, bytes());
  };
  const wrapWriter = (writer: BlobWriter): BlobWriter =>
    new Proxy(writer, {
      get(target, property, receiver) {
        if (property === 'persist' || property === 'commit') {
          const method = property;
          return (digest: Digest) =>
            keeping(digest, () => target.written, async () => {
              await target[method](digest);
              // A writer that lost its store (disk full) hashed on without keeping anything.
              if (target.storeError !== undefined) throw new NotKept();
            }).catch((error: unknown) => {
              if (!(error instanceof NotKept)) throw error;
            });
        }
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        // streamThroughOnDiskError() returns the writer itself: the caller must go on with this view.
        return (...args: unknown[]) => {
          const result: unknown = value.apply(target, args);
          return result === target ? receiver : result;
        };
      },
    });
  return storeView(store, {
    put: (digest, bytes) => keeping(digest, () => bytes.length, () => store.put(digest, bytes)),
    create: async (...args) => wrapWriter(await store.create(...args)),
    remove: async (digest) => {
      const before = await store.stat(digest);
      await store.remove(digest);
      if (before) observer.removed(digest.text, before.size);
    },
  });
}

class NotKept extends Error {}
