import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { BlobFills } from '../../src/storage/blob-fill.ts';
import { FilesystemBlobStore } from '../../src/storage/filesystem-blob-store.ts';

// Issue 9: a transfer longer than its announced Content-Length is cut as soon as it passes it — not
// read to its end and judged afterwards (an upstream answer can be endless) — and nothing is kept.
// undici already stops an HTTP body at its Content-Length; the fill does not rely on its source for that.

const CHUNK = 64 * 1024;
const ANNOUNCED = 4 * CHUNK;

test('a body longer than announced is cut right after the announced length, and nothing is kept', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-longer-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await FilesystemBlobStore.open(root);
  const fills = new BlobFills(store, pino({ level: 'silent' }));
  const content = Buffer.alloc(ANNOUNCED, 0x64);
  const hex = createHash('sha256').update(content).digest('hex');
  const digest = { algorithm: 'sha256' as const, hex, text: `sha256:${hex}` };
  let pulled = 0;
  async function* body(): AsyncGenerator<Buffer> {
    // The announced bytes, then more of them, without end (bounded here so the old code ends at all).
    for (let i = 0; i < 1000; i++) {
      pulled += 1;
      yield Buffer.alloc(CHUNK, 0x64);
    }
  }
  const fill = fills.join(digest, async () => ({ size: ANNOUNCED, body: body() }));
  await assert.rejects(fill.finished);
  assert.ok(pulled <= ANNOUNCED / CHUNK + 1, `pulled ${pulled} chunks of ${CHUNK} for ${ANNOUNCED} announced bytes`);
  assert.equal(await store.stat(digest), undefined, 'nothing kept');
  assert.deepEqual(await readdir(path.join(root, 'tmp')), [], 'nothing left in tmp/');
});

test('a body shorter than announced fails the fill and keeps nothing', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-shorter-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await FilesystemBlobStore.open(root);
  const fills = new BlobFills(store, pino({ level: 'silent' }));
  const content = Buffer.alloc(CHUNK, 0x65);
  const hex = createHash('sha256').update(content).digest('hex');
  const digest = { algorithm: 'sha256' as const, hex, text: `sha256:${hex}` };
  async function* body(): AsyncGenerator<Buffer> {
    yield content;
  }
  const fill = fills.join(digest, async () => ({ size: ANNOUNCED, body: body() }));
  await assert.rejects(fill.finished, /announced/);
  assert.equal(await store.stat(digest), undefined, 'nothing kept');
  assert.deepEqual(await readdir(path.join(root, 'tmp')), [], 'nothing left in tmp/');
});
