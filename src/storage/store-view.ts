// A view of a blob store with some of its methods replaced: what the wrappers that watch or shortcut a
// store (observed-blob-store.ts, manifest-memo.ts) have in common. Every other method is the store's own,
// bound to it once rather than on every call (a view sits on the path of every request).

import type { BlobStore } from './blob-store.ts';

export function storeView(store: BlobStore, replaced: Partial<BlobStore>): BlobStore {
  const own = new Map<PropertyKey, unknown>(Object.entries(replaced));
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, property, receiver) {
      if (own.has(property)) return own.get(property);
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      let method = bound.get(property);
      if (method === undefined) {
        method = value.bind(target);
        bound.set(property, method);
      }
      return method;
    },
  });
}
