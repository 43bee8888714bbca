import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parseDigest } from '../../src/reference.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { waitForWarmSet } from '../support/warm-set-wait.ts';

// Issue 13, item 4: a listed image is never evicted while it is listed. It is the least recently used
// content in a store over its cap (warmed first, never pulled since), so LRU alone would take it first;
// the sweep removes unlisted images instead.

const LAYER = 64 * 1024;
let upstream: MemoryRegistry;
let mirror: TestMirror;
let pinned: ReturnType<MemoryRegistry['addImage']>;
const others: Array<ReturnType<MemoryRegistry['addImage']> & { repository: string }> = [];

before(async () => {
  upstream = await new MemoryRegistry().start();
  pinned = upstream.addImage('team/pinned', 'v1', LAYER);
  for (let i = 0; i < 4; i++) others.push({ repository: `team/other${i}`, ...upstream.addImage(`team/other${i}`, 'v1', LAYER) });
  const storage = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-pinned-evict-'));
  mirror = await startMirror({ hub: { url: upstream.url } }, {
    storage,
    // Room for about three images; grace 0 so everything is evictable at once; sweeps only when asked.
    extra: { storage: { path: storage, maxSize: 3 * LAYER + 8 * 1024, evictionGrace: '0s', evictionInterval: '1h' }, prefetch: ['team/pinned:v1'] },
  });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

const kept = async (digest: string): Promise<boolean> => (await mirror.app.mirror.store.stat(parseDigest(digest) ?? (assert.fail(digest) as never))) !== undefined;

test("a listed image's manifest, config and layer survive a sweep that removes unlisted ones", async () => {
  await waitForWarmSet(mirror.app, (all) => all.every((e) => e.state === 'warm'));
  for (const image of others) {
    for (const path of [`manifests/v1`, `blobs/${image.config}`, `blobs/${image.layer}`]) {
      const response = await fetch(`${mirror.url}/v2/${image.repository}/${path}`);
      assert.equal(response.status, 200);
      await response.arrayBuffer();
    }
    await mirror.app.mirror.fills.drain();
  }
  // Fills over the cap asked for sweeps already; one more makes sure none is pending.
  await mirror.app.mirror.eviction.idle();
  assert.equal((await mirror.app.mirror.eviction.sweep()).status, 'done');
  for (const digest of [pinned.digest, pinned.config, pinned.layer]) assert.ok(await kept(digest), `pinned ${digest} kept`);
  const removed = [];
  for (const image of others) if (!(await kept(image.layer))) removed.push(image.repository);
  assert.ok(removed.length >= 1, 'unlisted layers were evicted');
  let total = 0;
  for await (const blob of mirror.app.mirror.store.list()) total += blob.size;
  assert.ok(total <= 3 * LAYER + 8 * 1024, `store under the cap: ${total}`);
});
