import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { FilesystemBlobStore } from '../../src/storage/filesystem-blob-store.ts';
import type { Digest } from '../../src/reference.ts';

// A fill hands the filesystem writer everything that arrived during its previous write (up to dozens of
// socket reads), and the writer splits that into several writev() calls of a few chunks each (issue 11,
// item 3). Every byte must land at its offset, across group boundaries and batches of any length.

function digestOf(bytes: Buffer): Digest {
  const hex = createHash('sha256').update(bytes).digest('hex');
  return { algorithm: 'sha256', hex, text: `sha256:${hex}` };
}

test('batches of many uneven chunks are written in order, readable in flight and kept whole', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-writer-groups-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await FilesystemBlobStore.open(root);
  const content = randomBytes(5 * 1024 * 1024 + 123);
  const writer = await store.create('sha256');
  // Batches of 1, 7, 8, 9, 17 and 37 chunks of uneven sizes (some empty), then the rest in one.
  let at = 0;
  for (const [batchIndex, count] of [1, 7, 8, 9, 17, 37].entries()) {
    const batch: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const size = (batchIndex * 31 + i * 7919) % 70_000;
      batch.push(content.subarray(at, at + size));
      at += size;
    }
    await writer.writeMany(batch);
    assert.equal(writer.written, at);
    const reader = await store.openInFlight(digestOf(content), writer.id);
    assert.ok(reader);
    assert.deepEqual(await reader.read(0, at), content.subarray(0, at), `the temp file after batch ${batchIndex} holds exactly the bytes so far`);
    await reader.close();
  }
  await writer.writeMany([content.subarray(at)]);
  const digest = digestOf(content);
  await writer.commit(digest);
  assert.deepEqual(await readFile(store.pathFor(digest)), content);
});
