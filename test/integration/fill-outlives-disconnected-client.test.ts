import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

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

test('a client that disconnects mid-download does not cancel the fill; the blob is kept', async () => {
  upstream.addImage('slow/app', 'v1');
  const { digest, bytes } = upstream.addRandomBlob(256 * 1024);
  upstream.trickle = { chunk: 16 * 1024, delayMs: 15 };
  await new Promise<void>((resolve, reject) => {
    const request = http.get(`${mirror.url}/v2/slow/app/blobs/${digest}`, (response) => {
      response.once('data', () => {
        request.destroy();
        resolve();
      });
    });
    request.on('error', (error) => (request.destroyed ? undefined : reject(error)));
  });
  const parsed = { algorithm: 'sha256' as const, hex: digest.slice(7), text: digest };
  const fill = mirror.app.mirror.fills.get(parsed);
  assert.ok(fill, 'the fill is still running after the client left');
  await fill.finished;
  assert.deepEqual(await mirror.app.mirror.store.stat(parsed), { size: bytes.length });
  upstream.trickle = undefined;

  upstream.resetCounts();
  const again = await fetch(`${mirror.url}/v2/slow/app/blobs/${digest}`);
  assert.deepEqual(Buffer.from(await again.arrayBuffer()), bytes);
  assert.equal(upstream.requests.length, 0);
});

test('a Range request on a blob still being filled is answered from the in-flight download', async () => {
  const { digest, bytes } = upstream.addRandomBlob(200 * 1024);
  upstream.trickle = { chunk: 16 * 1024, delayMs: 10 };
  try {
    upstream.resetCounts();
    const [whole, tail] = await Promise.all([
      fetch(`${mirror.url}/v2/slow/app/blobs/${digest}`),
      new Promise((resolve) => setTimeout(resolve, 30)).then(() =>
        fetch(`${mirror.url}/v2/slow/app/blobs/${digest}`, { headers: { range: 'bytes=100000-' } }),
      ),
    ]);
    assert.equal(tail.status, 206);
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), bytes.subarray(100000));
    assert.deepEqual(Buffer.from(await whole.arrayBuffer()), bytes);
    assert.equal(upstream.count({ method: 'GET', kind: 'blob' }), 1);
  } finally {
    upstream.trickle = undefined;
  }
});
