import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import type { Lease } from '../../src/leases/lease.ts';
import { BlobFills } from '../../src/storage/blob-fill.ts';
import { readFill } from '../../src/storage/fill-reader.ts';
import { FilesystemBlobStore } from '../../src/storage/filesystem-blob-store.ts';

// The fill lease's note (which write to follow) is for other replicas: storing it (a Redis round trip, a
// lock file rewritten) must not hold back this process's own clients, who used to wait for it before
// their first byte. The lease is still let go only once its note is stored, so a note never lands after
// the release and names a write nobody renews.

test('a fill streams to its readers while its lease note is being stored, and lets go of the lease only after', { timeout: 10_000 }, async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-note-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await FilesystemBlobStore.open(root);
  const fills = new BlobFills(store, pino({ level: 'silent' }));
  const content = Buffer.alloc(3 * 64 * 1024, 0x5a);
  const hex = createHash('sha256').update(content).digest('hex');
  const digest = { algorithm: 'sha256' as const, hex, text: `sha256:${hex}` };

  const events: string[] = [];
  let storeNote!: () => void;
  const noteStored = new Promise<void>((resolve) => {
    storeNote = resolve;
  });
  const lease: Lease = {
    lost: false,
    publish: async (info) => {
      events.push(`publish ${JSON.parse(info).size}`);
      await noteStored;
      events.push('note stored');
    },
    release: async () => {
      events.push('release');
    },
  };
  async function* body(): AsyncGenerator<Buffer> {
    for (let at = 0; at < content.length; at += 64 * 1024) yield content.subarray(at, at + 64 * 1024);
  }

  const fill = fills.join(digest, async () => ({ size: content.length, body: body() }), lease);
  // The whole blob reaches a reader while the note is still on its way.
  const chunks: Buffer[] = [];
  for await (const chunk of readFill(fill, store, 0, undefined)) chunks.push(chunk as Buffer);
  assert.deepEqual(Buffer.concat(chunks), content);
  await fill.finished;
  assert.deepEqual(events, [`publish ${content.length}`], 'the lease is held until its note is stored');

  storeNote();
  await fills.drain();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(events, [`publish ${content.length}`, 'note stored', 'release']);
  assert.deepEqual((await store.readAll(digest)) ?? Buffer.alloc(0), content, 'kept');
});
