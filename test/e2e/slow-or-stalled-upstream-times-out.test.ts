import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseDigest } from '../../src/reference.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { largestLayer, startFaultyUpstream, type FaultyUpstream } from './support/faulty-upstream.ts';
import { waitFor } from './support/wait-for.ts';

// A real registry that stops answering (no headers), stalls mid-body, trickles with gaps longer than the
// idle time-out, or trickles without gaps but below upstreamTimeouts.minRate (a fill slot held for good
// otherwise): the time-outs fire and the client gets an error within a bound, never a hang, and nothing is
// kept. A trickle above the floor is slow but alive: it completes.

const IDLE_MS = 1000;
/** Idle time-out plus the token dance and scheduling slack. */
const BOUND_MS = IDLE_MS + 2500;
let upstream: FaultyUpstream;
let mirror: TestMirror;

before(async () => {
  upstream = await startFaultyUpstream([
    { name: 'library/slow', tag: 'v1', extraLayerBytes: 512 * 1024 },
    { name: 'library/alive', tag: 'v1', extraLayerBytes: 256 * 1024 },
  ]);
  mirror = await startMirror(
    { hub: { url: upstream.proxy.url, defaultNamespace: 'library', tagTtl: '1h' } },
    { extra: { upstreamTimeouts: { connect: '1s', idle: `${IDLE_MS}ms`, minRate: '16KiB' } } },
  );
});
after(async () => {
  await mirror?.close();
  await upstream?.stop();
});

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work();
  return { value, ms: Date.now() - started };
}

test('an upstream that never sends headers: 503 UNAVAILABLE within the bound', async () => {
  upstream.proxy.addRule({ method: 'GET', kind: 'manifest', action: { kind: 'stall-headers' }, times: 1 });
  const { value: response, ms } = await timed(() => fetch(`${mirror.url}/v2/slow/manifests/v1`));
  assert.equal(response.status, 503);
  assert.equal(((await response.json()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'UNAVAILABLE');
  assert.ok(ms < BOUND_MS, `answered after ${ms} ms`);
});

for (const [label, action] of [
  ['stalls mid-body', { kind: 'stall', afterBytes: 100 * 1024 }],
  ['trickles with gaps longer than the idle time-out', { kind: 'trickle', chunk: 32 * 1024, delayMs: IDLE_MS * 2 }],
  // 2 KiB every 300 ms: never idle, 6.7 KiB/s.
  ['trickles below the floor rate', { kind: 'trickle', chunk: 2 * 1024, delayMs: 300 }],
] as const) {
  test(`an upstream that ${label}: the transfer fails within the bound and nothing is kept`, async () => {
    const layer = largestLayer(upstream.images[0] ?? assert.fail());
    const digest = parseDigest(layer.digest) ?? assert.fail();
    upstream.proxy.addRule({ method: 'GET', kind: 'blob', pathIncludes: layer.digest, action, times: 1 });
    const { ms } = await timed(async () => {
      const response = await fetch(`${mirror.url}/v2/slow/blobs/${layer.digest}`);
      await assert.rejects(response.arrayBuffer());
    });
    assert.ok(ms < BOUND_MS, `failed after ${ms} ms`);
    assert.equal(await mirror.app.mirror.store.stat(digest), undefined);
    await waitFor('temp files to go', async () => ((await mirror.app.mirror.store.inFlight()).writes === 0 ? true : undefined), { timeoutMs: 3_000 });
  });
}

test('a trickle that keeps bytes coming is slow but completes', async () => {
  const layer = largestLayer(upstream.images[1] ?? assert.fail());
  upstream.proxy.resetCounts();
  upstream.proxy.addRule({ method: 'GET', kind: 'blob', pathIncludes: layer.digest, action: { kind: 'trickle', chunk: 32 * 1024, delayMs: IDLE_MS / 5 }, times: 1 });
  const response = await fetch(`${mirror.url}/v2/alive/blobs/${layer.digest}`);
  assert.equal(response.status, 200);
  assert.equal((await response.arrayBuffer()).byteLength, layer.size);
  assert.equal(upstream.proxy.count({ fault: 'trickle' }), 1);
});
