// The rules every blob store keeps (src/storage/blob-store.ts), as one suite that runs against each
// implementation: test/unit/*-blob-store-keeps-the-store-contract.test.ts call it with their store. A new
// backend (S3) plugs in the same way, so storage-independent behaviour is proven once for all of them.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import { RegistryError } from '../../src/errors.ts';
import type { Digest } from '../../src/reference.ts';
import { type BlobStore, isNotKept } from '../../src/storage/blob-store.ts';

/** Makes a fresh, empty store for one test; cleans it up with `t.after`. */
export type StoreFactory = (t: TestContext) => Promise<BlobStore>;

export function digestOf(bytes: Buffer): Digest {
  const hex = createHash('sha256').update(bytes).digest('hex');
  return { algorithm: 'sha256', hex, text: `sha256:${hex}` };
}

async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function listed(store: BlobStore): Promise<Map<string, number>> {
  const blobs = new Map<string, number>();
  for await (const blob of store.list()) blobs.set(blob.digest.text, blob.size);
  return blobs;
}

export function blobStoreContract(name: string, makeStore: StoreFactory): void {
  describe(`${name} keeps the blob store contract`, () => {
    test('a write hashed while written is kept on a matching commit: stat, read, list and usage see it', async (t) => {
      const store = await makeStore(t);
      const bytes = randomBytes(300_000);
      const digest = digestOf(bytes);
      const writer = await store.create('sha256');
      await writer.write(bytes.subarray(0, 1000));
      await writer.writeMany([bytes.subarray(1000, 150_000), bytes.subarray(150_000)]);
      assert.equal(writer.written, bytes.length);
      assert.equal(await store.stat(digest), undefined, 'not visible before the commit');
      await writer.commit(digest);
      assert.deepEqual(await store.stat(digest), { size: bytes.length });
      assert.deepEqual(await store.readAll(digest), bytes);
      assert.deepEqual(await collect(store.open(digest)), bytes);
      assert.deepEqual(await listed(store), new Map([[digest.text, bytes.length]]));
      assert.deepEqual(await store.usage(), { blobs: 1, bytes: bytes.length });
      assert.deepEqual(await store.inFlight(), { writes: 0, bytes: 0 }, 'the committed write is no longer in flight');
    });

    test('a commit whose content does not match its digest throws DIGEST_INVALID and keeps nothing', async (t) => {
      const store = await makeStore(t);
      const claimed = digestOf(randomBytes(100));
      const writer = await store.create('sha256');
      await writer.write(randomBytes(100));
      await assert.rejects(writer.commit(claimed), (error: unknown) => error instanceof RegistryError && error.code === 'DIGEST_INVALID');
      assert.equal(await store.stat(claimed), undefined);
      assert.deepEqual(await listed(store), new Map());
      assert.deepEqual(await store.inFlight(), { writes: 0, bytes: 0 });
      await assert.rejects(store.put(claimed, randomBytes(100)), (error: unknown) => error instanceof RegistryError && error.code === 'DIGEST_INVALID');
      assert.equal(await store.stat(claimed), undefined, 'put() checks the digest too');
    });

    test('abort leaves nothing behind, in flight or kept', async (t) => {
      const store = await makeStore(t);
      const bytes = randomBytes(5000);
      const digest = digestOf(bytes);
      const writer = await store.create('sha256');
      await writer.write(bytes);
      assert.deepEqual(await store.inFlight(), { writes: 1, bytes: bytes.length }, 'an unfinished write takes room');
      await writer.abort();
      await writer.abort();
      assert.deepEqual(await store.inFlight(), { writes: 0, bytes: 0 });
      assert.equal(await store.stat(digest), undefined);
      assert.equal(await store.openInFlight(digest, writer.id), undefined, 'nothing left to follow');
      await assert.rejects(writer.persist(digest), /not kept/);
    });

    test('a write that stops being kept goes on hashing, verifies, and keeps nothing', async (t) => {
      const store = await makeStore(t);
      const bytes = randomBytes(10_000);
      const digest = digestOf(bytes);
      const writer = await store.create('sha256');
      await writer.write(bytes.subarray(0, 4000));
      await writer.stopKeeping(new Error('no room'));
      await writer.write(bytes.subarray(4000));
      assert.equal((writer.storeError as Error).message, 'no room');
      await writer.verify(digest);
      await assert.rejects(writer.persist(digest), /not kept/);
      assert.equal(await store.stat(digest), undefined);
      assert.deepEqual(await store.inFlight(), { writes: 0, bytes: 0 });
    });

    test('open reads a byte range (end inclusive); a blob not kept fails the stream as not kept', async (t) => {
      const store = await makeStore(t);
      const bytes = randomBytes(2 * 1024 * 1024 + 17);
      const digest = digestOf(bytes);
      await store.put(digest, bytes);
      assert.deepEqual(await collect(store.open(digest, { start: 10, end: 19 })), bytes.subarray(10, 20));
      assert.deepEqual(await collect(store.open(digest, { start: 1_500_000, end: bytes.length - 1 })), bytes.subarray(1_500_000));
      assert.deepEqual(await collect(store.open(digest, { start: 0, end: 0 })), bytes.subarray(0, 1));
      const missing = digestOf(randomBytes(10));
      await assert.rejects(collect(store.open(missing)), (error: unknown) => isNotKept(error));
      assert.equal(await store.readAll(missing), undefined);
    });

    test('list, remove and usage agree; removing what is not kept is no error', async (t) => {
      const store = await makeStore(t);
      const blobs = [randomBytes(100), randomBytes(2000), randomBytes(30_000)];
      for (const bytes of blobs) await store.put(digestOf(bytes), bytes);
      assert.deepEqual(await store.usage(), { blobs: 3, bytes: 32_100 });
      assert.deepEqual(await listed(store), new Map(blobs.map((bytes) => [digestOf(bytes).text, bytes.length])));
      const gone = digestOf(blobs[1] as Buffer);
      await store.remove(gone);
      await store.remove(gone);
      assert.equal(await store.stat(gone), undefined);
      assert.equal((await listed(store)).has(gone.text), false);
      assert.deepEqual(await store.usage(), { blobs: 2, bytes: 30_100 });
    });

    test('touch records a use that accessedAt and list report; a blob not kept is not touched', async (t) => {
      const store = await makeStore(t);
      const bytes = randomBytes(100);
      const digest = digestOf(bytes);
      await store.put(digest, bytes);
      const at = new Date(Date.now() - 3 * 60 * 60_000);
      assert.equal(await store.touch(digest, at), true);
      const recorded = (await store.accessedAt(digest)) ?? assert.fail('kept');
      assert.ok(Math.abs(recorded - at.getTime()) < 2, `${recorded} vs ${at.getTime()}`);
      for await (const blob of store.list()) assert.ok(Math.abs(blob.accessedAt - at.getTime()) < 2);
      const missing = digestOf(randomBytes(10));
      assert.equal(await store.touch(missing), false);
      assert.equal(await store.accessedAt(missing), undefined);
    });

    test('concurrent writers of one digest both commit, and one blob is kept', async (t) => {
      const store = await makeStore(t);
      const bytes = randomBytes(200_000);
      const digest = digestOf(bytes);
      const [first, second] = await Promise.all([store.create('sha256'), store.create('sha256')]);
      assert.notEqual(first.id, second.id);
      for (let at = 0; at < bytes.length; at += 50_000) {
        await Promise.all([first.write(bytes.subarray(at, at + 50_000)), second.write(bytes.subarray(at, at + 50_000))]);
      }
      await Promise.all([first.commit(digest), second.commit(digest)]);
      assert.deepEqual(await store.readAll(digest), bytes);
      assert.deepEqual(await store.usage(), { blobs: 1, bytes: bytes.length });
      assert.deepEqual(await store.inFlight(), { writes: 0, bytes: 0 });
    });

    test('a write in flight can be followed as it grows, through its commit, and the kept blob after', async (t) => {
      const store = await makeStore(t);
      const bytes = randomBytes(100_000);
      const digest = digestOf(bytes);
      const writer = await store.create('sha256');
      await writer.write(bytes.subarray(0, 40_000));
      const reader = (await store.openInFlight(digest, writer.id)) ?? assert.fail('the write can be followed');
      t.after(() => reader.close());
      assert.equal(await reader.size(), 40_000);
      assert.deepEqual(await reader.read(39_000, 5000), bytes.subarray(39_000, 40_000), 'only what is written so far');
      await writer.write(bytes.subarray(40_000));
      assert.equal(await reader.size(), bytes.length);
      await writer.commit(digest);
      assert.deepEqual(await reader.read(0, bytes.length), bytes, 'still readable after the commit');
      const kept = (await store.openInFlight(digest, writer.id)) ?? assert.fail('committed: the kept blob');
      t.after(() => kept.close());
      assert.deepEqual(await kept.read(90_000, 20_000), bytes.subarray(90_000));
      const byDigest = (await store.openInFlight(digest)) ?? assert.fail('no id: the kept blob');
      t.after(() => byDigest.close());
      assert.equal(await byDigest.size(), bytes.length);
      assert.equal(await store.openInFlight(digestOf(randomBytes(8))), undefined);
    });

    test('a reader keeps reading content removed after it was opened; a discarded write is gone', async (t) => {
      const store = await makeStore(t);
      const bytes = randomBytes(20_000);
      const digest = digestOf(bytes);
      await store.put(digest, bytes);
      const reader = (await store.openInFlight(digest)) ?? assert.fail('kept');
      t.after(() => reader.close());
      await store.remove(digest);
      assert.deepEqual(await reader.read(0, bytes.length), bytes);

      const writer = await store.create('sha256');
      await writer.write(bytes);
      await store.discardInFlight(writer.id);
      assert.deepEqual(await store.inFlight(), { writes: 0, bytes: 0 }, 'what a dead writer left is removed');
      await store.discardInFlight('../../not-a-write');
    });

    test('the store lock admits one holder until it lets go; a healthy store passes its probe', async (t) => {
      const store = await makeStore(t);
      await store.probe();
      const [first, second] = [store.lock('eviction', 60_000), store.lock('eviction', 60_000)];
      const held = (await first.tryAcquire()) ?? assert.fail('free');
      assert.equal(held.lost, false);
      assert.equal(await second.tryAcquire(), undefined);
      await held.release();
      const next = (await second.tryAcquire()) ?? assert.fail('free again');
      await next.release();
    });
  });
}
