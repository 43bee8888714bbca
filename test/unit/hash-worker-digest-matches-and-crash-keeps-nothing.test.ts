import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { FilesystemBlobStore } from '../../src/storage/filesystem-blob-store.ts';
import { crashHashWorkerForTest, hashWorkerAvailable } from '../../src/storage/hash-worker.ts';
import type { Digest } from '../../src/reference.ts';

// Issue 11: large writes are hashed by a worker thread fed through a bounded shared ring. Its digests must
// be exactly those of node:crypto on the event loop, for writes interleaved with each other and larger
// than the ring; and if the worker dies, the writes it was hashing fail and keep nothing.

const MiB = 1024 * 1024;

function digestOf(bytes: Buffer): Digest {
  const hex = createHash('sha256').update(bytes).digest('hex');
  return { algorithm: 'sha256', hex, text: `sha256:${hex}` };
}

/** Feeds `content` in uneven chunks (as socket reads come), several per writeMany. */
function chunksOf(content: Buffer): Buffer[][] {
  const batches: Buffer[][] = [];
  let at = 0;
  for (let i = 0; at < content.length; i++) {
    const batch: Buffer[] = [];
    for (let j = 0; j < 1 + (i % 5) && at < content.length; j++) {
      const size = Math.min(content.length - at, 1 + ((i * 7919 + j * 104729) % (300 * 1024)));
      batch.push(content.subarray(at, at + size));
      at += size;
    }
    batches.push(batch);
  }
  return batches;
}

async function store(t: { after: (fn: () => Promise<void>) => void }): Promise<{ store: FilesystemBlobStore; root: string }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-hash-worker-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return { store: await FilesystemBlobStore.open(root), root };
}

test('interleaved writes larger than the ring are kept under digests that match node:crypto', async (t) => {
  const { store: s } = await store(t);
  const contents = [randomBytes(20 * MiB), randomBytes(3 * MiB + 17), randomBytes(MiB + 1), randomBytes(1000)];
  const writers = await Promise.all(contents.map(() => s.create('sha256')));
  const plans = contents.map(chunksOf);
  for (let step = 0; plans.some((plan) => step < plan.length); step++) {
    await Promise.all(plans.map((plan, i) => (step < plan.length ? writers[i]?.writeMany(plan[step] as Buffer[]) : undefined)));
  }
  for (const [i, content] of contents.entries()) {
    const digest = digestOf(content);
    await writers[i]?.commit(digest);
    assert.deepEqual(await s.readAll(digest), content);
  }
});

test('one flipped byte past the first MiB fails verification and keeps nothing', async (t) => {
  const { store: s, root } = await store(t);
  const content = randomBytes(5 * MiB);
  const digest = digestOf(content);
  const flipped = Buffer.from(content);
  flipped[4 * MiB] = (flipped[4 * MiB] as number) ^ 1;
  const writer = await s.create('sha256');
  for (const batch of chunksOf(flipped)) await writer.writeMany(batch);
  await assert.rejects(writer.commit(digest), /does not match/);
  assert.equal(await s.stat(digest), undefined);
  assert.deepEqual(await readdir(path.join(root, 'tmp')), []);
});

test('a crash of the hash worker fails the write in flight, keeps nothing, and the next write works', async (t) => {
  const { store: s, root } = await store(t);
  const content = randomBytes(4 * MiB);
  const digest = digestOf(content);
  const writer = await s.create('sha256');
  await writer.writeMany([content.subarray(0, 2 * MiB)]);
  crashHashWorkerForTest();
  // The crash is noticed on the worker's next turn: the write fails there, or at the latest on verify.
  await assert.rejects(
    (async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await writer.writeMany([content.subarray(2 * MiB)]);
      await writer.commit(digest);
    })(),
    /hash worker/,
  );
  await writer.abort();
  assert.equal(await s.stat(digest), undefined);
  assert.deepEqual(await readdir(path.join(root, 'tmp')), []);

  // For a while after, large writes are hashed on the event loop: a worker that cannot start does not
  // fail every fill. They are verified all the same.
  assert.equal(hashWorkerAvailable(), false);
  const again = await s.create('sha256');
  await again.writeMany([content]);
  await again.commit(digest);
  assert.deepEqual(await s.readAll(digest), content);
  const flipped = Buffer.from(content);
  flipped[3 * MiB] = (flipped[3 * MiB] as number) ^ 1;
  const corrupt = await s.create('sha256');
  await corrupt.writeMany([flipped]);
  await assert.rejects(corrupt.commit(digest), /does not match/);
});
