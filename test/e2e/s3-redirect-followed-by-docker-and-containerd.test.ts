import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { registerBlobRedirector } from '../../src/storage/blob-redirect.ts';
import { s3ClientFor, startRgw, type Rgw } from '../support/ceph-rgw.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { type Containerd, startContainerd, writeHostsToml } from './support/containerd-client.ts';
import { type CountingProxy, startCountingProxy } from './support/counting-proxy.ts';
import { type Dockerd, startDockerd } from './support/dockerd-client.ts';
import { seedImage, type SeededImage } from './support/images.ts';
import { skopeoCopy } from './support/skopeo-client.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';
import { startUpstreamRegistry, type UpstreamRegistry } from './support/upstream-registry.ts';

// Issue 10, storage.s3.redirect: a GET of a kept blob is answered 307 to a presigned URL of its object —
// signed for storage.s3.publicEndpoint, here a counting proxy in front of Ceph RGW, so the test sees the
// clients fetch from the bucket — and docker, containerd and skopeo follow it; a presign failure streams instead.
// Issue 10, acceptance 2 (streaming): a second mirror on the same bucket with redirect: false serves docker
// and containerd every byte itself — the clients never touch the bucket, a re-pull costs the upstream nothing.

const MiB = 1024 * 1024;
const Bucket = 'pullthrough-redirect';
const ACCESS = 'PT_REDIRECT_S3_ACCESS_KEY';
const SECRET = 'PT_REDIRECT_S3_SECRET_KEY';
let rgw: Rgw;
let publicS3: CountingProxy;
/** The streaming mirror's own S3 endpoint (a counting proxy too): shows the re-pulls were served from the bucket. */
let privateS3: CountingProxy;
let upstream: UpstreamRegistry;
let mirror: TestMirror;
/** The same bucket (its own prefix) with redirect: false: the mirror streams kept blobs. */
let streaming: TestMirror;
let workDir: string;
const images: Record<'dockerd' | 'containerd', SeededImage> = {} as Record<'dockerd' | 'containerd', SeededImage>;
const streamed: Record<'dockerd' | 'containerd', SeededImage> = {} as Record<'dockerd' | 'containerd', SeededImage>;

before(async () => {
  rgw = await startRgw();
  const admin = s3ClientFor(rgw);
  await admin.send(new CreateBucketCommand({ Bucket }));
  admin.destroy();
  publicS3 = await startCountingProxy(rgw.endpoint);
  privateS3 = await startCountingProxy(rgw.endpoint);
  process.env[ACCESS] = rgw.accessKeyId;
  process.env[SECRET] = rgw.secretAccessKey;
  workDir = await makeTempDir('s3redirect');
  upstream = await startUpstreamRegistry({ auth: 'token' });
  for (const client of ['dockerd', 'containerd'] as const) {
    images[client] = await seedImage(upstream, { name: `library/s3r-${client}`, tag: 'v1', kind: 'oci', extraLayerBytes: 3 * MiB });
    streamed[client] = await seedImage(upstream, { name: `library/s3s-${client}`, tag: 'v1', kind: 'oci', extraLayerBytes: 1 * MiB });
  }
  mirror = await startMirror(
    { dockerhub: { url: upstream.url, aliases: ['docker.io'], defaultNamespace: 'library', tagTtl: '1h' } },
    {
      extra: {
        storage: {
          path: path.join(workDir, 'scratch'),
          s3: { endpoint: rgw.endpoint, publicEndpoint: publicS3.url, bucket: Bucket, forcePathStyle: true, accessKeyEnv: ACCESS, secretKeyEnv: SECRET, redirect: true },
        },
      },
    },
  );
  streaming = await startMirror(
    { dockerhub: { url: upstream.url, aliases: ['docker.io'], defaultNamespace: 'library', tagTtl: '1h' } },
    {
      extra: {
        storage: {
          path: path.join(workDir, 'scratch-streaming'),
          s3: { endpoint: privateS3.url, publicEndpoint: publicS3.url, bucket: Bucket, prefix: 'streaming/', forcePathStyle: true, accessKeyEnv: ACCESS, secretKeyEnv: SECRET, redirect: false },
        },
      },
    },
  );
  // Warm the cache (skopeo; cold blobs stream from their fills, never redirected), so the clients below
  // fetch kept blobs only.
  for (const image of Object.values(images)) {
    const copied = await skopeoCopy(`${new URL(mirror.url).host}/dockerhub/${image.name.replace(/^library\//, '')}:${image.tag}`, path.join(workDir, image.name.replace('/', '-')));
    assert.ok(copied.ok, copied.output);
  }
  await mirror.app.mirror.fills.drain();
});
after(async () => {
  await mirror?.close();
  await streaming?.close();
  await upstream?.stop();
  await publicS3?.close();
  await privateS3?.close();
  delete process.env[ACCESS];
  delete process.env[SECRET];
  await rgw?.stop();
  await removeTempDir(workDir);
});

/** Blob GETs the clients sent to the bucket (through the public endpoint), answered 200 or 206. */
function bucketBlobGets(): number {
  return blobGets(publicS3);
}
function blobGets(proxy: CountingProxy): number {
  return proxy.requests().filter((r) => r.method === 'GET' && r.path.startsWith(`/${Bucket}/`) && r.path.includes('blobs/sha256/') && (r.status === 200 || r.status === 206)).length;
}

test('a kept blob GET answers 307 to a presigned URL of the object; the URL serves the exact bytes, ranges too', async () => {
  const layer = images.dockerd.layers[0] ?? assert.fail('a layer');
  const answer = await fetch(`${mirror.url}/v2/dockerhub/s3r-dockerd/blobs/${layer.digest}`, { redirect: 'manual' });
  assert.equal(answer.status, 307);
  assert.equal(answer.headers.get('docker-content-digest'), layer.digest);
  const location = answer.headers.get('location') ?? assert.fail('a location');
  assert.ok(location.startsWith(`${publicS3.url}/${Bucket}/blobs/sha256/`), location);
  assert.match(location, /X-Amz-Expires=1200/);
  const bytes = Buffer.from(await (await fetch(location)).arrayBuffer());
  assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, layer.digest);
  const ranged = await fetch(location, { headers: { range: 'bytes=100-199' } });
  assert.equal(ranged.status, 206);
  assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), bytes.subarray(100, 200));
  assert.equal((await fetch(`${mirror.url}/v2/dockerhub/s3r-dockerd/blobs/${layer.digest}`, { method: 'HEAD', redirect: 'manual' })).status, 200, 'HEAD is answered by the mirror');
});

test('containerd follows the redirects: the layers come from the bucket, nothing from the upstream', async (t) => {
  const containerd: Containerd = await startContainerd();
  t.after(() => containerd.stop());
  const hostsDir = await makeTempDir('s3hosts');
  t.after(() => removeTempDir(hostsDir));
  await writeHostsToml(hostsDir, 'docker.io', mirror.url);
  upstream.resetCounts();
  publicS3.resetCounts();
  const image = images.containerd;
  const pulled = await containerd.pull(`docker.io/${image.name}:${image.tag}`, { hostsDir });
  assert.ok(pulled.ok, pulled.output);
  assert.equal(pulled.digest, image.digest);
  assert.ok(bucketBlobGets() >= 2, `config and layers fetched from the bucket (${bucketBlobGets()})`);
  assert.equal(upstream.count(), 0);
});

test('docker follows the redirects: the layers come from the bucket, nothing from the upstream', async (t) => {
  const dockerd: Dockerd = await startDockerd({ mirrorUrl: mirror.url });
  t.after(() => dockerd.stop());
  upstream.resetCounts();
  publicS3.resetCounts();
  const image = images.dockerd;
  const pulled = await dockerd.pull(`${image.name}:${image.tag}`);
  assert.ok(pulled.ok, pulled.output);
  assert.equal(pulled.digest, image.digest);
  assert.ok(bucketBlobGets() >= 2, `config and layers fetched from the bucket (${bucketBlobGets()})`);
  assert.equal(upstream.count(), 0);
  assert.equal(dockerd.fallbackAttempts(), 0);
});

test('skopeo follows the redirects: a kept image copies from the bucket, byte-exact, nothing from the upstream', async () => {
  upstream.resetCounts();
  publicS3.resetCounts();
  const image = images.dockerd;
  const copied = await skopeoCopy(`${new URL(mirror.url).host}/dockerhub/s3r-dockerd:${image.tag}`, path.join(workDir, 'skopeo-redirect'));
  assert.ok(copied.ok, copied.output);
  assert.equal(copied.digest, image.digest);
  assert.ok(bucketBlobGets() >= 2, `config and layers fetched from the bucket (${bucketBlobGets()})`);
  assert.equal(upstream.count(), 0);
});

test('streaming (redirect: false): containerd pulls through the mirror on the same bucket, never touching it; a re-pull costs the upstream nothing', async (t) => {
  const containerd: Containerd = await startContainerd();
  t.after(() => containerd.stop());
  const hostsDir = await makeTempDir('s3hosts-streaming');
  t.after(() => removeTempDir(hostsDir));
  await writeHostsToml(hostsDir, 'docker.io', streaming.url);
  publicS3.resetCounts();
  const image = streamed.containerd;
  const ref = `docker.io/${image.name}:${image.tag}`;
  const pulled = await containerd.pull(ref, { hostsDir });
  assert.ok(pulled.ok, pulled.output);
  assert.equal(pulled.digest, image.digest);
  await streaming.app.mirror.fills.drain();
  await containerd.removeImage(ref);
  upstream.resetCounts();
  privateS3.resetCounts();
  const again = await containerd.pull(ref, { hostsDir });
  assert.ok(again.ok, again.output);
  assert.equal(again.digest, image.digest);
  assert.equal(upstream.count(), 0, 'the re-pull came from the bucket');
  assert.ok(blobGets(privateS3) >= 2, `the mirror read config and layers from the bucket (${blobGets(privateS3)})`);
  assert.equal(bucketBlobGets(), 0, 'streaming: the mirror served every byte');
  assert.equal(containerd.fallbackAttempts(), 0);
});

test('streaming (redirect: false): docker pulls through the mirror on the same bucket, never touching it; a re-pull costs the upstream nothing', async (t) => {
  const dockerd: Dockerd = await startDockerd({ mirrorUrl: streaming.url });
  t.after(() => dockerd.stop());
  publicS3.resetCounts();
  const image = streamed.dockerd;
  const ref = `${image.name}:${image.tag}`;
  const pulled = await dockerd.pull(ref);
  assert.ok(pulled.ok, pulled.output);
  assert.equal(pulled.digest, image.digest);
  await streaming.app.mirror.fills.drain();
  await dockerd.removeImage(ref);
  upstream.resetCounts();
  privateS3.resetCounts();
  const again = await dockerd.pull(ref);
  assert.ok(again.ok, again.output);
  assert.equal(again.digest, image.digest);
  assert.equal(upstream.count(), 0, 'the re-pull came from the bucket');
  assert.ok(blobGets(privateS3) >= 2, `the mirror read config and layers from the bucket (${blobGets(privateS3)})`);
  assert.equal(bucketBlobGets(), 0, 'streaming: the mirror served every byte');
  assert.equal(dockerd.fallbackAttempts(), 0);
});

test('when presigning fails the kept blob is streamed by the mirror instead', async () => {
  registerBlobRedirector(mirror.config, { presignedUrl: () => Promise.reject(new Error('signing key unavailable')) });
  const layer = images.containerd.layers[0] ?? assert.fail('a layer');
  publicS3.resetCounts();
  const answer = await fetch(`${mirror.url}/v2/dockerhub/s3r-containerd/blobs/${layer.digest}`, { redirect: 'manual' });
  assert.equal(answer.status, 200);
  const bytes = Buffer.from(await answer.arrayBuffer());
  assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, layer.digest);
  assert.equal(bucketBlobGets(), 0, 'not through the public endpoint');
});
