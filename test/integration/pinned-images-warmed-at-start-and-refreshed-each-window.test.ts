import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { OCI_INDEX, DOCKER_MANIFEST } from '../../src/manifest-media-types.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { scrape, sumOf } from '../support/prometheus-text.ts';
import { waitForWarmSet } from '../support/warm-set-wait.ts';

// Issue 13, item 4: images listed under `prefetch:` are fetched when the mirror starts, with no client
// asking, only the listed platforms of an index; after the freshness window a moved tag is picked up
// with one manifest GET (HEAD revalidation for the rest).

let upstream: MemoryRegistry;
let mirror: TestMirror;
let alpine: ReturnType<MemoryRegistry['addImage']>;
let amd64: ReturnType<MemoryRegistry['addImage']>;
let arm64: ReturnType<MemoryRegistry['addImage']>;
let index: string;

before(async () => {
  upstream = await new MemoryRegistry().start();
  alpine = upstream.addImage('library/alpine', '3.20');
  amd64 = upstream.addImage('library/multi', 'amd64-only');
  arm64 = upstream.addImage('library/multi', 'arm64-only');
  index = upstream.putManifest('library/multi', '1.0', OCI_INDEX, Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      { mediaType: DOCKER_MANIFEST, digest: amd64.digest, size: amd64.manifest.bytes.length, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: DOCKER_MANIFEST, digest: arm64.digest, size: arm64.manifest.bytes.length, platform: { os: 'linux', architecture: 'arm64' } },
    ],
  }))).digest;
  mirror = await startMirror(
    { hub: { url: upstream.url, defaultNamespace: 'library', tagTtl: '1s' } },
    { extra: { prefetch: ['alpine:3.20', { image: 'multi:1.0', platforms: ['linux/arm64'] }] } },
  );
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

const kept = async (digest: string): Promise<boolean> => {
  const parsed = (await import('../../src/reference.ts')).parseDigest(digest);
  return parsed !== undefined && (await mirror.app.mirror.store.stat(parsed)) !== undefined;
};

test('listed images are fetched at start without any client asking, only the listed platforms', async () => {
  const entries = await waitForWarmSet(mirror.app, (all) => all.every((e) => e.state === 'warm'));
  assert.equal(entries[0]?.digest, alpine.digest);
  assert.equal(entries[1]?.digest, index);
  assert.deepEqual(entries[1]?.walkedPlatforms, ['linux/arm64']);
  await mirror.app.mirror.fills.drain();
  for (const digest of [alpine.digest, alpine.config, alpine.layer, index, arm64.digest, arm64.config, arm64.layer]) {
    assert.ok(await kept(digest), `${digest} kept`);
  }
  assert.equal(await kept(amd64.layer), false, 'an unlisted platform is not fetched');
  const samples = await scrape(mirror.url);
  // The scrape itself is no registry request: nobody asked the mirror for an image.
  assert.equal(sumOf(samples, 'pullthrough_requests_total'), 0, 'no client request');
  assert.equal(sumOf(samples, 'pullthrough_pinned_images', { state: 'warm' }), 2);
  assert.equal(sumOf(samples, 'pullthrough_pinned_digests'), 7);
  // Each listed manifest and blob was fetched once.
  assert.equal(upstream.requests.filter((r) => r.method === 'GET' && r.kind === 'blob').length, 4);
  // A client pull afterwards is answered from the cache.
  upstream.resetCounts();
  const response = await fetch(`${mirror.url}/v2/library/alpine/blobs/${alpine.layer}`);
  assert.equal(response.status, 200);
  await response.arrayBuffer();
  assert.equal(upstream.count({ kind: 'blob' }), 0);
});

test('a refresh after the window picks up a moved tag with 1 manifest GET', async () => {
  const before = mirror.app.warmSet.status()[0]?.lastRefresh ?? 0;
  const moved = upstream.addImage('library/alpine', '3.20');
  upstream.resetCounts();
  const entries = await waitForWarmSet(mirror.app, (all) => all[0]?.digest === moved.digest && all.every((e) => e.state === 'warm'));
  assert.ok((entries[0]?.lastRefresh ?? 0) > before);
  // A fill is committed (renamed into place) just after its last byte went out: wait for it, not a timer.
  await mirror.app.mirror.fills.drain();
  assert.ok(await kept(moved.layer), 'the moved tag\'s layer is kept');
  const manifestGets = upstream.requests.filter((r) => r.method === 'GET' && r.kind === 'manifest');
  assert.deepEqual(manifestGets.map((r) => r.path), [`/v2/library/alpine/manifests/${moved.digest}`], 'one GET: the new digest');
  assert.ok(upstream.count({ method: 'HEAD', kind: 'manifest' }) >= 1, 'revalidated with HEAD');
});
