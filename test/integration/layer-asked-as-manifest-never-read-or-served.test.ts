import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseDigest } from '../../src/reference.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9, finding 1: a cached layer asked for as a manifest (`manifests/<digest of a layer>`) is not a
// manifest: it is never read into memory and never served with 200 — a 64 MiB one is refused at once
// (nothing over limits.maxManifestSize can be a manifest), and the event loop stays free meanwhile.

const BIG = 64 * 1024 * 1024;
let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry().start();
  mirror = await startMirror({ hub: { url: upstream.url } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

async function keep(repository: string, size: number): Promise<string> {
  upstream.tags.set(repository, new Map());
  const { digest } = upstream.addRandomBlob(size);
  const answer = await fetch(`${mirror.url}/v2/${repository}/blobs/${digest}`);
  assert.equal(answer.status, 200);
  await answer.arrayBuffer();
  // The fill commits just after the last byte went out.
  const parsed = parseDigest(digest) ?? assert.fail();
  for (let i = 0; i < 200 && !(await mirror.app.mirror.store.stat(parsed)); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(await mirror.app.mirror.store.stat(parsed), 'kept');
  return digest;
}

test('a big cached layer asked for as a manifest is refused without reading it, and /v2/ stays fast', async () => {
  const layer = await keep('big/layer', BIG);
  upstream.blobs.clear();
  upstream.resetCounts();
  // A warm connection, so the pings below time the event loop, not connection set-up.
  await (await fetch(`${mirror.url}/v2/`)).arrayBuffer();
  const started = Date.now();
  const asManifest = Array.from({ length: 8 }, (_, i) =>
    fetch(`${mirror.url}/v2/big/layer/manifests/${layer}`, { method: i % 2 === 0 ? 'GET' : 'HEAD' }).then(async (answer) => ({
      status: answer.status,
      type: answer.headers.get('content-type'),
      length: (await answer.arrayBuffer()).byteLength,
    })),
  );
  const pings: number[] = [];
  const pinging = (async () => {
    for (let i = 0; i < 5; i++) {
      const sent = Date.now();
      const ping = await fetch(`${mirror.url}/v2/`);
      await ping.arrayBuffer();
      pings.push(Date.now() - sent);
    }
  })();
  const answers = await Promise.all(asManifest);
  await pinging;
  for (const answer of answers) {
    assert.equal(answer.status, 404);
    assert.match(answer.type ?? '', /^application\/json/);
    assert.ok(answer.length < 1024, 'an error envelope, not the layer');
  }
  // Reading the layer blocked the event loop for seconds per request (22 s for these 8 before issue 9).
  // The median is the claim; the max only has slack for a machine busy with other test files.
  const median = [...pings].sort((x, y) => x - y)[Math.floor(pings.length / 2)] ?? Infinity;
  assert.ok(median < 100 && Math.max(...pings) < 500, `/v2/ took ${pings.join(', ')} ms`);
  assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
  assert.equal(upstream.count({ kind: 'manifest' }), 0, 'too big to be a manifest: not even asked upstream');
});

test('a small cached layer asked for as a manifest is not served from the store: the upstream says it has no such manifest', async () => {
  const layer = await keep('small/layer', 2048);
  upstream.resetCounts();
  for (const method of ['GET', 'HEAD']) {
    const answer = await fetch(`${mirror.url}/v2/small/layer/manifests/${layer}`, { method });
    assert.equal(answer.status, 404, method);
    if (method === 'GET') assert.equal(((await answer.json()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'MANIFEST_UNKNOWN');
    else await answer.arrayBuffer();
  }
  assert.ok(upstream.count({ kind: 'manifest' }) >= 1, 'asked upstream as a manifest');
  assert.equal(upstream.count({ kind: 'blob' }), 0);
});
