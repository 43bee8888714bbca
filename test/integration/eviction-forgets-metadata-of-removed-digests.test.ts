import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parseDigest, type Digest } from '../../src/reference.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Metadata does not outlive content (issue 9): when eviction removes a manifest or blob, the records that
// describe it (its per-upstream manifest record, its origins) go too, so the metadata store does not grow
// for ever and no record points at content that is gone.

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry().start();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-forget-'));
  mirror = await startMirror({ hub: { url: upstream.url } }, { storage: dir, extra: { storage: { path: dir, evictionInterval: '1h', evictionGrace: '1s', maxAge: '1m' } } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

const d = (text: string): Digest => parseDigest(text) as Digest;

test('an evicted manifest and its blobs leave no origins or manifest records behind', async () => {
  const image = upstream.addImage('gone/app', 'v1');
  assert.equal((await fetch(`${mirror.url}/v2/gone/app/manifests/v1`)).status, 200);
  const layer = await fetch(`${mirror.url}/v2/gone/app/blobs/${image.layer}`);
  assert.equal(layer.status, 200);
  await layer.arrayBuffer();
  const { store, eviction, metadata } = mirror.app.mirror;
  await mirror.app.mirror.fills.drain();
  assert.deepEqual(await metadata.getOrigins(image.digest), ['hub']);
  assert.deepEqual(await metadata.getOrigins(image.layer), ['hub']);

  // Unused for longer than maxAge: the next sweep removes all of it.
  const longAgo = new Date(Date.now() - 10 * 60_000);
  for (const digest of [image.digest, image.layer]) await store.touch(d(digest), longAgo);
  await eviction.idle();
  const result = await eviction.sweep();
  assert.equal(result.status, 'done');
  assert.equal(await store.stat(d(image.digest)), undefined);
  assert.equal(await store.stat(d(image.layer)), undefined);
  assert.equal(await metadata.getOrigins(image.digest), undefined, 'origins of the evicted manifest forgotten');
  assert.equal(await metadata.getOrigins(image.layer), undefined, 'origins of the evicted layer forgotten');
});
