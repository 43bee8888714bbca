import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { seedImage, type SeededImage } from './support/images.ts';
import { startUpstreamRegistry, type UpstreamRegistry } from './support/upstream-registry.ts';

// One upstream fetch per digest: 16 clients asking at once for a blob nobody has yet share one upstream
// GET, each streaming the in-flight download, and all get the whole, identical, verified body.

let upstream: UpstreamRegistry;
let mirror: TestMirror;
let image: SeededImage;

before(async () => {
  upstream = await startUpstreamRegistry({ auth: 'token' });
  image = await seedImage(upstream, { name: 'library/herd', tag: 'v1', kind: 'oci', content: 'random', extraLayerBytes: 24 * 1024 * 1024 });
  mirror = await startMirror({ dockerhub: { url: upstream.url, aliases: ['docker.io'], defaultNamespace: 'library' } });
});
after(async () => {
  await mirror?.close();
  await upstream?.stop();
});

test('16 concurrent cold requests for one blob cause exactly 1 upstream GET and 16 identical bodies', async () => {
  const layer = [...image.layers].sort((a, b) => b.size - a.size)[0];
  assert.ok(layer && layer.size > 20 * 1024 * 1024);
  upstream.resetCounts();
  const bodies = await Promise.all(
    Array.from({ length: 16 }, async () => {
      const response = await fetch(`${mirror.url}/v2/herd/blobs/${layer.digest}`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-length'), String(layer.size));
      return Buffer.from(await response.arrayBuffer());
    }),
  );
  assert.equal(upstream.count({ method: 'GET', kind: 'blob', status: 200 }), 1, 'exactly one upstream GET');
  for (const body of bodies) {
    assert.equal(body.length, layer.size);
    assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, layer.digest);
  }
});
