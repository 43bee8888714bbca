import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry({ tokenAuth: true }).start();
  mirror = await startMirror({ hub: { url: upstream.url, defaultNamespace: 'library', tagTtl: '1h' } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

test('a tag is fetched once, then served from the cache with the exact upstream bytes and headers', async () => {
  const image = upstream.addImage('library/alpine', '3.20');
  const first = await fetch(`${mirror.url}/v2/alpine/manifests/3.20`);
  assert.equal(first.status, 200);
  const firstBody = Buffer.from(await first.arrayBuffer());
  assert.deepEqual(firstBody, image.manifest.bytes, 'exact upstream bytes, not re-serialised');
  assert.equal(first.headers.get('content-type'), image.manifest.mediaType);
  assert.equal(first.headers.get('docker-content-digest'), image.digest);
  assert.equal(first.headers.get('content-length'), String(image.manifest.bytes.length));
  assert.equal(first.headers.get('etag'), `"${image.digest}"`);
  const manifestGetsAfterFirst = upstream.count({ method: 'GET', kind: 'manifest' });
  assert.equal(manifestGetsAfterFirst, 2, 'one 401 challenge, then one authenticated GET');

  upstream.resetCounts();
  for (const path of ['/v2/alpine/manifests/3.20', '/v2/library/alpine/manifests/3.20', `/v2/library/alpine/manifests/${image.digest}`]) {
    const again = await fetch(`${mirror.url}${path}`);
    assert.equal(again.status, 200, path);
    assert.deepEqual(Buffer.from(await again.arrayBuffer()), image.manifest.bytes, path);
  }
  const head = await fetch(`${mirror.url}/v2/alpine/manifests/3.20`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('docker-content-digest'), image.digest);
  assert.equal(head.headers.get('content-length'), String(image.manifest.bytes.length));
  assert.equal((await head.arrayBuffer()).byteLength, 0, 'HEAD has an empty body');
  assert.equal(upstream.requests.length, 0, 'no upstream request at all within the freshness window');
});

test('a blob is fetched once, verified, then served locally with Range support', async () => {
  const { digest, bytes } = upstream.addRandomBlob(300_000);
  upstream.putManifest('library/busybox', 'latest', 'application/vnd.oci.image.manifest.v1+json', Buffer.from('{}'));
  upstream.resetCounts();
  const first = await fetch(`${mirror.url}/v2/busybox/blobs/${digest}`);
  assert.equal(first.status, 200);
  assert.deepEqual(Buffer.from(await first.arrayBuffer()), bytes);
  assert.equal(first.headers.get('docker-content-digest'), digest);
  assert.equal(first.headers.get('content-length'), String(bytes.length));
  // The auth challenge is remembered from the first request: a token for this repository is fetched up
  // front, so the blob costs exactly one GET.
  assert.equal(upstream.count({ method: 'GET', kind: 'blob' }), 1);
  assert.equal(upstream.count({ kind: 'token' }), 1);

  upstream.resetCounts();
  const ranged = await fetch(`${mirror.url}/v2/busybox/blobs/${digest}`, { headers: { range: 'bytes=1000-' } });
  assert.equal(ranged.status, 206);
  assert.equal(ranged.headers.get('content-range'), `bytes 1000-${bytes.length - 1}/${bytes.length}`);
  assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), bytes.subarray(1000));
  const head = await fetch(`${mirror.url}/v2/busybox/blobs/${digest}`, { method: 'HEAD' });
  assert.equal(head.headers.get('content-length'), String(bytes.length));
  const outside = await fetch(`${mirror.url}/v2/busybox/blobs/${digest}`, { headers: { range: `bytes=${bytes.length}-` } });
  assert.equal(outside.status, 416);
  assert.equal(upstream.requests.length, 0, 'kept blobs never go upstream');
});
