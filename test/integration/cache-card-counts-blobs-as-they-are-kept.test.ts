import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { summarize } from '../../src/observability/status-summary.ts';
import { parseDigest, type Digest } from '../../src/reference.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 12, item 14: the Cache card showed "0 B / 0 blobs" for up to 30 s after the first pull, until the
// next background scan. Kept blobs and manifests are added as they are committed, removals subtracted.

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry().start();
  mirror = await startMirror({ hub: { url: upstream.url } });
  // The start-up scan of the empty store is done: what follows can only come from commits.
  await mirror.app.mirror.cacheSize.refresh();
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

test('the cache size counts a pull at once and a removal at once', async () => {
  const image = upstream.addImage('team/app', '1.0', 4096);
  for (const url of [`/v2/team/app/manifests/1.0`, `/v2/team/app/blobs/${image.config}`, `/v2/team/app/blobs/${image.layer}`]) {
    const response = await fetch(`${mirror.url}${url}`);
    assert.equal(response.status, 200, url);
    await response.arrayBuffer();
  }
  // A fill commits once its last byte is verified, which may be just after the client has it all.
  await mirror.app.mirror.fills.drain();
  const expected = image.manifest.bytes.length + (upstream.blobs.get(image.config)?.length ?? 0) + 4096;
  const summary = await summarize(mirror.app.mirror.metrics, mirror.app.mirror.config);
  assert.equal(summary.cache.blobs, 3);
  assert.equal(summary.cache.bytes, expected);
  const page = await (await fetch(`${mirror.url}/`)).text();
  assert.match(page, new RegExp(`data-metric="cache-bytes" data-value="${expected}"`));

  // Asked again (a second client): nothing new is kept, nothing counted twice.
  await (await fetch(`${mirror.url}/v2/team/app/blobs/${image.layer}`)).arrayBuffer();
  assert.equal((await summarize(mirror.app.mirror.metrics, mirror.app.mirror.config)).cache.bytes, expected);

  await mirror.app.mirror.store.remove(parseDigest(image.layer) as Digest);
  const after = await summarize(mirror.app.mirror.metrics, mirror.app.mirror.config);
  assert.equal(after.cache.blobs, 2);
  assert.equal(after.cache.bytes, expected - 4096);
});
