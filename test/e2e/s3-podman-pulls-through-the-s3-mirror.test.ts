import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { ConfigInput } from '../../src/config.ts';
import { s3ClientFor, startRgw, type Rgw } from '../support/ceph-rgw.ts';
import { startMirror } from '../support/mirror.ts';
import { seedImage, type SeededImage } from './support/images.ts';
import { startCountingProxy, type CountingProxy } from './support/counting-proxy.ts';
import { podmanPull } from './support/podman-client.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';
import { startUpstreamRegistry, type UpstreamRegistry } from './support/upstream-registry.ts';

// Issue 10, acceptance 2 for podman: it pulls through a mirror whose blobs are in a real Ceph RGW bucket,
// streamed through the mirror and with storage.s3.redirect (podman follows the 307 to the presigned URL);
// the second pull costs the upstream nothing; every object in the bucket hashes to its key's digest.

const Bucket = 'pullthrough-podman';
const ACCESS = 'PT_E2E_S3_PODMAN_ACCESS_KEY';
const SECRET = 'PT_E2E_S3_PODMAN_SECRET_KEY';
let rgw: Rgw;
let admin: S3Client;
let upstream: UpstreamRegistry;
/** The bucket as clients reach it (storage.s3.publicEndpoint): counts what podman fetched from it. */
let publicS3: CountingProxy;
const images: SeededImage[] = [];

before(async () => {
  rgw = await startRgw();
  admin = s3ClientFor(rgw);
  await admin.send(new CreateBucketCommand({ Bucket }));
  process.env[ACCESS] = rgw.accessKeyId;
  process.env[SECRET] = rgw.secretAccessKey;
  publicS3 = await startCountingProxy(rgw.endpoint);
  upstream = await startUpstreamRegistry({ auth: 'token' });
  for (const kind of ['oci', 'multi-arch'] as const) images.push(await seedImage(upstream, { name: `library/s3-podman-${kind}`, tag: 'v1', kind, extraLayerBytes: 2 * 1024 * 1024 }));
});
after(async () => {
  delete process.env[ACCESS];
  delete process.env[SECRET];
  await upstream?.stop();
  await publicS3?.close();
  admin?.destroy();
  await rgw?.stop();
});

async function assertObjectsHashToTheirKeys(prefix: string): Promise<number> {
  const page = await admin.send(new ListObjectsV2Command({ Bucket, Prefix: prefix }));
  const keys = (page.Contents ?? []).map((o) => o.Key as string);
  for (const key of keys) {
    assert.ok(key.startsWith(`${prefix}blobs/sha256/`), `only kept blobs: ${key}`);
    const out = await admin.send(new GetObjectCommand({ Bucket, Key: key }));
    const hash = createHash('sha256');
    for await (const chunk of out.Body as AsyncIterable<Buffer>) hash.update(chunk);
    assert.equal(`${prefix}blobs/sha256/${hash.digest('hex')}`, key, `${key} hashes to its key`);
  }
  return keys.length;
}

for (const redirect of [false, true]) {
  test(`podman pulls through a mirror on S3 (${redirect ? 'redirect' : 'streaming'}); the second pull costs the upstream nothing`, async (t) => {
    const prefix = redirect ? 'redirect/' : 'streaming/';
    const scratch = await makeTempDir('s3podman');
    const upstreams: ConfigInput['upstreams'] = { dockerhub: { url: upstream.url, aliases: ['docker.io'], defaultNamespace: 'library', tagTtl: '1h' } };
    const s3 = { endpoint: rgw.endpoint, publicEndpoint: publicS3.url, bucket: Bucket, prefix, forcePathStyle: true, accessKeyEnv: ACCESS, secretKeyEnv: SECRET, redirect };
    const mirror = await startMirror(upstreams, { keyv: 'configured', extra: { storage: { s3, path: scratch } } });
    t.after(async () => {
      await mirror.close();
      await removeTempDir(scratch);
    });
    const mirrorHost = new URL(mirror.url).host;
    for (const image of images) {
      const pulled = await podmanPull(`docker.io/${image.name}:${image.tag}`, { mirrorHost });
      assert.ok(pulled.ok, pulled.output);
      assert.equal(pulled.digest, image.digest, image.kind);
      assert.equal(pulled.fallbackAttempts, 0);
    }
    // Fills finish after the last byte went out: wait for every blob to be kept before the warm pull.
    await new Promise((resolve) => setTimeout(resolve, 500));
    upstream.resetCounts();
    publicS3.resetCounts();
    for (const image of images) {
      const again = await podmanPull(`docker.io/${image.name}:${image.tag}`, { mirrorHost });
      assert.ok(again.ok, again.output);
      assert.equal(again.digest, image.digest);
    }
    assert.equal(upstream.count(), 0, 'the second pulls came from the bucket');
    const fromBucket = publicS3.requests().filter((r) => r.method === 'GET' && r.path.startsWith(`/${Bucket}/${prefix}blobs/sha256/`) && r.status === 200).length;
    if (redirect) assert.ok(fromBucket >= 4, `podman followed the redirects to the bucket for configs and layers (${fromBucket})`);
    else assert.equal(fromBucket, 0, 'streaming: the mirror served every byte');
    assert.ok((await assertObjectsHashToTheirKeys(prefix)) >= 6, 'the images are kept in the bucket');
  });
}
