import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { largestLayer, startFaultyUpstream, type FaultyUpstream } from './support/faulty-upstream.ts';
import { startPrivateRedis, type PrivateRedis } from './support/private-redis.ts';
import { skopeoCopy } from './support/skopeo-client.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';
import { waitFor } from './support/wait-for.ts';

// Redis (metadata) stops and comes back. While it is gone, kept blobs and manifests are still served by
// digest (the filesystem is the truth for content), tags are asked upstream, and no request hangs;
// when it is back, the mirror reconnects by itself and writes its metadata there again.

const NO_HANG_MS = 3000;
let upstream: FaultyUpstream;
let redis: PrivateRedis;
let mirror: TestMirror;
let workDir: string;

before(async () => {
  upstream = await startFaultyUpstream([
    { name: 'library/redis-a', tag: 'v1', extraLayerBytes: 256 * 1024 },
    { name: 'library/redis-b', tag: 'v1' },
  ]);
  redis = await startPrivateRedis();
  mirror = await startMirror({ hub: { url: upstream.proxy.url, defaultNamespace: 'library', tagTtl: '1h' } }, { keyv: 'configured', redis: redis.url });
  workDir = await makeTempDir('redis-e2e');
});
after(async () => {
  await mirror?.close();
  await redis?.close();
  await upstream?.stop();
  await removeTempDir(workDir);
});

async function within<T>(what: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const value = await work();
  assert.ok(Date.now() - started < NO_HANG_MS, `${what} took ${Date.now() - started} ms`);
  return value;
}

test('with Redis stopped, kept content is served by digest and nothing hangs; it reconnects when Redis is back', async () => {
  const image = upstream.images[0] ?? assert.fail();
  const host = new URL(mirror.url).host;
  const warm = await skopeoCopy(`${host}/redis-a:v1`, path.join(workDir, 'warm'));
  assert.ok(warm.ok, warm.output);
  assert.ok((await redis.keys()).some((key) => key.includes('redis-a')), 'the tag answer went to Redis');

  await redis.stop();
  upstream.proxy.resetCounts();
  const layer = largestLayer(image);
  const blob = await within('blob by digest', () => fetch(`${mirror.url}/v2/redis-a/blobs/${layer.digest}`));
  assert.equal(blob.status, 200);
  const bytes = Buffer.from(await blob.arrayBuffer());
  assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, layer.digest);
  const manifest = await within('manifest by digest', () => fetch(`${mirror.url}/v2/redis-a/manifests/${image.digest}`));
  assert.equal(manifest.status, 200);
  assert.deepEqual(Buffer.from(await manifest.arrayBuffer()), image.manifest);
  assert.equal(upstream.proxy.count(), 0, 'kept content by digest needs neither Redis nor upstream');

  const byTag = await within('a full pull by tag', () => skopeoCopy(`${host}/redis-a:v1`, path.join(workDir, 'no-redis')));
  assert.ok(byTag.ok, byTag.output);
  assert.equal(byTag.digest, image.digest);
  const notReady = await within('readiness', () => fetch(`${mirror.url}/readyz`));
  assert.equal(notReady.status, 503);
  await notReady.arrayBuffer();

  await redis.start();
  await waitFor(
    'the mirror to reconnect to Redis',
    async () => {
      const ready = await fetch(`${mirror.url}/readyz`);
      await ready.arrayBuffer();
      return ready.status === 200 ? true : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 200 },
  );
  const other = await skopeoCopy(`${host}/redis-b:v1`, path.join(workDir, 'back'));
  assert.ok(other.ok, other.output);
  assert.ok((await redis.keys()).some((key) => key.includes('redis-b')), 'metadata is written to Redis again');
});
