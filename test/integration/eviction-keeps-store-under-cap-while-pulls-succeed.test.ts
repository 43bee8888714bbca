import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { scrape, sumOf } from '../support/prometheus-text.ts';

// A cap far below the working set: 24 images of ~64 KiB against a 256 KiB store. Every pull must still
// succeed with the right bytes, the store must be under the cap once each pull's fills have landed and
// the sweep they trigger has run, and a second round must cost upstream exactly one GET per evicted item.

const IMAGES = 24;
const LAYER = 64 * 1024;
const CAP = 256 * 1024;
let upstream: MemoryRegistry;
let mirror: TestMirror;
const images: Array<{ repository: string; layer: string; config: string; digest: string }> = [];

before(async () => {
  upstream = await new MemoryRegistry().start();
  for (let i = 0; i < IMAGES; i++) {
    const repository = `cap/app${i}`;
    images.push({ repository, ...upstream.addImage(repository, 'v1', LAYER) });
  }
  // Grace 0: in a real store nothing used in the last minutes goes; here everything is "minutes" old at once.
  const storage = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-cap-'));
  mirror = await startMirror({ hub: { url: upstream.url } }, { storage, extra: { storage: { path: storage, maxSize: CAP, evictionGrace: '0s', evictionInterval: '1h' } } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

async function pull(image: (typeof images)[number]): Promise<void> {
  const manifest = await fetch(`${mirror.url}/v2/${image.repository}/manifests/v1`);
  assert.equal(manifest.status, 200);
  assert.equal(manifest.headers.get('docker-content-digest'), image.digest);
  await manifest.arrayBuffer();
  for (const digest of [image.config, image.layer]) {
    const blob = await fetch(`${mirror.url}/v2/${image.repository}/blobs/${digest}`);
    assert.equal(blob.status, 200, `${image.repository} ${digest}`);
    const body = Buffer.from(await blob.arrayBuffer());
    assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, digest);
  }
}

async function storedBytes(): Promise<number> {
  let total = 0;
  for await (const blob of mirror.app.mirror.store.list()) total += blob.size;
  return total;
}

/** Waits for the fills to land and the background sweep they triggered (if any) to end; sweeps nothing itself. */
async function settle(): Promise<void> {
  await mirror.app.mirror.fills.drain();
  await new Promise((resolve) => setImmediate(resolve));
  await mirror.app.mirror.eviction.idle();
}

test('pulls of a working set 6x the cap all succeed, the store stays under the cap, evicted items are re-fetched once', async () => {
  const workingSet = images.reduce((sum, image) => sum + LAYER + (upstream.blobs.get(image.config)?.length ?? 0) + (upstream.manifests.get(image.digest)?.bytes.length ?? 0), 0);
  assert.ok(workingSet > 6 * CAP);
  let highest = 0;
  for (const image of images) {
    await pull(image);
    await settle();
    highest = Math.max(highest, await storedBytes());
  }
  assert.ok(highest <= CAP, `store peaked at ${highest} bytes once fills landed, cap ${CAP}`);

  // Second round: a sequential scan over 6x the cap evicts each image before its turn comes again
  // (LRU's worst case), so every item is fetched again, but never twice.
  upstream.resetCounts();
  for (const image of images) {
    await pull(image);
    await settle();
  }
  const gets = upstream.requests.filter((r) => r.method === 'GET' && (r.kind === 'blob' || r.kind === 'manifest'));
  const perItem = new Map<string, number>();
  for (const r of gets) perItem.set(r.path, (perItem.get(r.path) ?? 0) + 1);
  assert.ok([...perItem.values()].every((n) => n === 1), 'no item fetched twice in one round');
  const refetched = gets.length;
  // What was just pulled is kept: pulling the last image again costs nothing upstream.
  upstream.resetCounts();
  await pull(images[IMAGES - 1] as (typeof images)[number]);
  assert.equal(upstream.requests.length, 0);
  const end = await storedBytes();
  assert.ok(end <= CAP, `store holds ${end} bytes, cap ${CAP}`);

  const samples = await scrape(mirror.url);
  const evictions = sumOf(samples, 'pullthrough_evictions_total', { reason: 'size' });
  const freed = sumOf(samples, 'pullthrough_evicted_bytes_total', { reason: 'size' });
  assert.ok(evictions > 0 && freed >= 2 * workingSet - 2 * CAP, `evictions ${evictions}, freed ${freed}`);
  assert.equal(sumOf(samples, 'pullthrough_cache_max_bytes'), CAP);
  process.stdout.write(
    `# eviction figures: cap ${CAP} B, working set ${workingSet} B (${IMAGES} images), highest once fills landed ${highest} B, ` +
      `at the end ${end} B, second-round upstream GETs ${refetched} of ${IMAGES * 3} items, evictions ${evictions} (${freed} B)\n`,
  );
});
