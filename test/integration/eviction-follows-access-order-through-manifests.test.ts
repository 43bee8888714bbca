import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parseDigest, type Digest } from '../../src/reference.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// LRU through the real API: serving a manifest refreshes it (and, through it, its layers); a manifest
// is evicted before the blobs it names; and anything used within the grace period stays.

let upstream: MemoryRegistry;
const mirrors: TestMirror[] = [];

before(async () => {
  upstream = await new MemoryRegistry().start();
});
after(async () => {
  for (const mirror of mirrors) await mirror.close();
  await upstream.stop();
});

async function mirrorWith(storage: Record<string, unknown>): Promise<TestMirror> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-lru-'));
  const mirror = await startMirror({ hub: { url: upstream.url } }, { storage: dir, extra: { storage: { path: dir, evictionInterval: '1h', ...storage } } });
  mirrors.push(mirror);
  return mirror;
}

async function pull(mirror: TestMirror, repository: string, image: { config: string; layer: string }): Promise<void> {
  assert.equal((await fetch(`${mirror.url}/v2/${repository}/manifests/v1`)).status, 200);
  for (const digest of [image.config, image.layer]) {
    const blob = await fetch(`${mirror.url}/v2/${repository}/blobs/${digest}`);
    assert.equal(blob.status, 200);
    await blob.arrayBuffer();
  }
  await mirror.app.mirror.fills.drain();
}

const d = (text: string): Digest => parseDigest(text) as Digest;
const minutesAgo = (n: number): Date => new Date(Date.now() - n * 60_000);

test('the image whose manifest was served last survives; the other goes manifest first', async () => {
  const mirror = await mirrorWith({ evictionGrace: '1s' });
  const a = upstream.addImage('lru/a', 'v1', 32 * 1024);
  const b = upstream.addImage('lru/b', 'v1', 32 * 1024);
  await pull(mirror, 'lru/a', a);
  await pull(mirror, 'lru/b', b);
  const { store, eviction } = mirror.app.mirror;
  // Both pulled long ago; b's layer and config even before its manifest, a's everything oldest of all.
  for (const digest of [a.digest, a.config, a.layer]) await store.touch(d(digest), minutesAgo(120));
  await store.touch(d(b.digest), minutesAgo(60));
  for (const digest of [b.config, b.layer]) await store.touch(d(digest), minutesAgo(90));

  // A client pulls a again: its manifest is served (the layers it already has are not asked for).
  await eviction.idle();
  // Past the recorder's throttle (a quarter of the grace period): this access is written, not skipped.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const again = await fetch(`${mirror.url}/v2/lru/a/manifests/${a.digest}`);
  assert.equal(again.status, 200);
  await new Promise((resolve) => setTimeout(resolve, 50));

  let aBytes = 0;
  for await (const blob of store.list()) if ([a.digest, a.config, a.layer].includes(blob.digest.text)) aBytes += blob.size;
  // Room for one image: without the refresh a (oldest) would go; without the manifest rule b's layer would go first.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const result = await eviction.sweep({ maxBytes: Math.ceil(aBytes / 0.9) + 16 });
  assert.equal(result.status, 'done');
  const order = result.status === 'done' ? result.report.evicted.map((e) => e.digest) : [];
  assert.deepEqual(order.slice(0, 1), [b.digest]);
  assert.deepEqual(new Set(order), new Set([b.digest, b.config, b.layer]));
  for (const digest of [a.digest, a.config, a.layer]) assert.ok(await store.stat(d(digest)), `${digest} of a kept`);
  for (const digest of [b.digest, b.config, b.layer]) assert.equal(await store.stat(d(digest)), undefined);
});

test('what was used within the grace period survives a sweep with a one-byte cap', async () => {
  const mirror = await mirrorWith({});
  const c = upstream.addImage('lru/c', 'v1', 16 * 1024);
  const old = upstream.addImage('lru/old', 'v1', 16 * 1024);
  await pull(mirror, 'lru/old', old);
  await pull(mirror, 'lru/c', c);
  const { store, eviction } = mirror.app.mirror;
  for (const digest of [old.digest, old.config, old.layer]) await store.touch(d(digest), minutesAgo(30));
  await eviction.idle();
  const result = await eviction.sweep({ maxBytes: 1 });
  assert.equal(result.status, 'done');
  if (result.status !== 'done') return;
  assert.deepEqual(new Set(result.report.evicted.map((e) => e.digest)), new Set([old.digest, old.config, old.layer]));
  assert.ok(result.report.protectedBytes > 16 * 1024);
  for (const digest of [c.digest, c.config, c.layer]) assert.ok(await store.stat(d(digest)), `${digest} used just now is kept`);
});
