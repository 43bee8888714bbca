import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { ManifestMemo } from '../../src/plugins/manifest-memo.ts';
import type { Digest } from '../../src/reference.ts';
import { MemoryBlobStore } from '../../src/storage/memory-blob-store.ts';

// Issue 11, item 4: a kept manifest's stat and read cost five thread-pool round trips per request, so the
// manifest cache reads through a memo. Asked again, the store is not; evicted or removed, it is asked
// again; the memo stays within its byte budget, least recently used out first.

function digestOf(bytes: Buffer): Digest {
  const hex = createHash('sha256').update(bytes).digest('hex');
  return { algorithm: 'sha256', hex, text: `sha256:${hex}` };
}

/** A memory store that counts the calls that reach it. */
function countingStore(): { store: MemoryBlobStore; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const store = new MemoryBlobStore();
  for (const name of ['stat', 'readAll'] as const) {
    const original = store[name].bind(store);
    store[name] = (async (digest: Digest) => {
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return original(digest);
    }) as never;
  }
  return { store, calls };
}

test('a manifest read once is answered from memory, its size too', async () => {
  const { store, calls } = countingStore();
  const bytes = Buffer.from('{"schemaVersion":2}');
  const digest = digestOf(bytes);
  await store.put(digest, bytes);
  const memo = new ManifestMemo(store);
  assert.deepEqual(await memo.store.readAll(digest), bytes);
  assert.deepEqual(await memo.store.readAll(digest), bytes);
  assert.deepEqual(await memo.store.stat(digest), { size: bytes.length });
  assert.equal(calls.get('readAll'), 1);
  assert.equal(calls.get('stat') ?? 0, 0);
});

test('a manifest kept through the view is not read back', async () => {
  const { store, calls } = countingStore();
  const bytes = Buffer.from('{"schemaVersion":2,"layers":[]}');
  const digest = digestOf(bytes);
  const memo = new ManifestMemo(store);
  await memo.store.put(digest, bytes);
  assert.deepEqual(await memo.store.readAll(digest), bytes);
  assert.equal(calls.get('readAll') ?? 0, 0);
});

test('a digest that is not kept is not remembered', async () => {
  const { store, calls } = countingStore();
  const bytes = Buffer.from('never kept');
  const memo = new ManifestMemo(store);
  assert.equal(await memo.store.readAll(digestOf(bytes)), undefined);
  assert.equal(await memo.store.stat(digestOf(bytes)), undefined);
  assert.equal(await memo.store.readAll(digestOf(bytes)), undefined);
  assert.equal(calls.get('readAll'), 2);
  assert.equal(calls.get('stat'), 1);
});

test('forgotten (evicted) or removed through the view, the store is asked again', async () => {
  const { store, calls } = countingStore();
  const bytes = Buffer.from('{"schemaVersion":2,"config":{}}');
  const digest = digestOf(bytes);
  await store.put(digest, bytes);
  const memo = new ManifestMemo(store);
  await memo.store.readAll(digest);
  memo.forget(digest);
  assert.deepEqual(await memo.store.readAll(digest), bytes);
  assert.equal(calls.get('readAll'), 2);

  await memo.store.remove(digest);
  assert.equal(await memo.store.stat(digest), undefined);
  assert.equal(await memo.store.readAll(digest), undefined);
  assert.equal(await store.stat(digest), undefined);
});

test('the memo keeps within its budget, least recently used out first, and skips outsized manifests', async () => {
  const { store, calls } = countingStore();
  const budget = 8 * 1024;
  const memo = new ManifestMemo(store, budget);
  // Eight fit in the budget, the ninth does not.
  const manifests = Array.from({ length: 9 }, () => randomBytes(1000));
  const digests = manifests.map(digestOf);
  for (const [i, bytes] of manifests.entries()) await store.put(digests[i] as Digest, bytes);
  for (const digest of digests.slice(0, 8)) await memo.store.readAll(digest);
  // The first is used again, so the second is the oldest when the ninth comes in.
  await memo.store.readAll(digests[0] as Digest);
  await memo.store.readAll(digests[8] as Digest);
  calls.clear();
  for (const i of [0, 2, 3, 4, 5, 6, 7, 8]) await memo.store.readAll(digests[i] as Digest);
  assert.equal(calls.get('readAll') ?? 0, 0, 'the recently used ones stay');
  await memo.store.readAll(digests[1] as Digest);
  assert.equal(calls.get('readAll'), 1, 'the least recently used one went');

  // Over an eighth of the budget: never remembered.
  const huge = randomBytes(budget / 4);
  const hugeDigest = digestOf(huge);
  await store.put(hugeDigest, huge);
  calls.clear();
  await memo.store.readAll(hugeDigest);
  await memo.store.readAll(hugeDigest);
  assert.equal(calls.get('readAll'), 2);
});

test('everything else is the store itself', async () => {
  const store = new MemoryBlobStore();
  const memo = new ManifestMemo(store);
  const bytes = Buffer.from('a layer');
  const digest = digestOf(bytes);
  await store.put(digest, bytes);
  assert.equal(await memo.store.touch(digest), true);
  assert.deepEqual(await memo.store.usage(), await store.usage());
});
