import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry().start();
  mirror = await startMirror({ hub: { url: upstream.url } }, { extra: { upstreamTimeouts: { connect: '1s', idle: '400ms' } } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

test('an upstream that stalls mid-body is cut by the idle time-out: the client gets an error, not a hang', async () => {
  upstream.addImage('stall/app', 'v1');
  const { digest } = upstream.addRandomBlob(64 * 1024);
  upstream.trickle = { chunk: 8 * 1024, delayMs: 5_000 };
  const started = Date.now();
  try {
    const response = await fetch(`${mirror.url}/v2/stall/app/blobs/${digest}`);
    await assert.rejects(response.arrayBuffer());
  } finally {
    upstream.trickle = undefined;
  }
  assert.ok(Date.now() - started < 3_000, `gave up after ${Date.now() - started} ms`);
  assert.deepEqual(await mirror.app.mirror.store.inFlight(), { writes: 0, bytes: 0 });
});
