import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9: blob transfers and everything else (manifests, tokens, listings) use separate connection
// pools per upstream, so a manifest never queues behind slow blob downloads (it waited 19.5 s before).

const FILLS = 70;

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry({ tokenAuth: true }).start();
  mirror = await startMirror(
    { hub: { url: upstream.url } },
    { extra: { limits: { maxConcurrentFills: 200, maxConcurrentFillsPerClient: 200 } } },
  );
});
after(async () => {
  // The upstream first: the trickling fills then end at once instead of holding the mirror's close.
  await upstream.stop();
  await mirror.close();
});

test(`with ${FILLS} slow blob fills in flight, a manifest by tag answers in under a second`, async (t) => {
  const image = upstream.addImage('team/app', 'v1');
  const blobs = Array.from({ length: FILLS }, () => upstream.addRandomBlob(64 * 1024).digest);
  // Warm the auth challenge so the fills go straight to the blob GETs.
  await (await fetch(`${mirror.url}/v2/team/app/manifests/${image.digest}`)).arrayBuffer();
  upstream.trickle = { chunk: 1024, delayMs: 250 };

  const abort = new AbortController();
  const downloads = blobs.map((digest) =>
    fetch(`${mirror.url}/v2/team/app/blobs/${digest}`, { signal: abort.signal }).then(
      (response) => response.arrayBuffer(),
      () => undefined,
    ).catch(() => undefined),
  );
  try {
    for (let waited = 0; upstream.count({ kind: 'blob' }) < 64 && waited < 10_000; waited += 20) await sleep(20);
    assert.ok(upstream.count({ kind: 'blob' }) >= 64, `blob fills in flight: ${upstream.count({ kind: 'blob' })}`);

    const started = performance.now();
    const manifest = await fetch(`${mirror.url}/v2/team/app/manifests/v1`);
    await manifest.arrayBuffer();
    const ms = performance.now() - started;
    t.diagnostic(`manifest answered in ${Math.round(ms)} ms with ${upstream.count({ kind: 'blob' })} blob GETs in flight`);
    assert.equal(manifest.status, 200);
    assert.ok(ms < 1000, `the manifest took ${Math.round(ms)} ms`);
  } finally {
    abort.abort();
    await Promise.all(downloads);
  }
});
