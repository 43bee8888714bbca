import assert from 'node:assert/strict';
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

test('bytes that do not match the digest are never kept, and the client never gets a complete body', async () => {
  upstream.addImage('bad/app', 'v1');
  const { digest, bytes } = upstream.addRandomBlob(512 * 1024);
  upstream.corruptBlobs = true;
  const response = await fetch(`${mirror.url}/v2/bad/app/blobs/${digest}`);
  // Headers went out before the digest could be checked; the body must then be cut short.
  await assert.rejects(response.arrayBuffer(), 'the transfer fails instead of completing');
  assert.equal(await mirror.app.mirror.store.stat({ algorithm: 'sha256', hex: digest.slice(7), text: digest }), undefined);
  assert.deepEqual(await mirror.app.mirror.store.inFlight(), { writes: 0, bytes: 0 }, 'no temp file left behind');

  upstream.corruptBlobs = false;
  upstream.resetCounts();
  const retry = await fetch(`${mirror.url}/v2/bad/app/blobs/${digest}`);
  assert.equal(retry.status, 200);
  assert.deepEqual(Buffer.from(await retry.arrayBuffer()), bytes, 'the next pull fetches it whole');
  assert.equal(upstream.count({ method: 'GET', kind: 'blob' }), 1);
});

test('a manifest that does not match its digest is refused and not kept', async () => {
  const image = upstream.addImage('bad/manifest', 'v1');
  const tampered = Buffer.from(image.manifest.bytes.toString('utf8').replace('schemaVersion', 'schemaVersion '));
  upstream.manifests.set(image.digest, { ...image.manifest, bytes: tampered });
  const response = await fetch(`${mirror.url}/v2/bad/manifest/manifests/${image.digest}`);
  assert.equal(response.status, 503);
  assert.equal(await mirror.app.mirror.store.stat({ algorithm: 'sha256', hex: image.digest.slice(7), text: image.digest }), undefined);
});
