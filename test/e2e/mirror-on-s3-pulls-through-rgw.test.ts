import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { ConfigInput } from '../../src/config.ts';
import { parseDigest } from '../../src/reference.ts';
import { s3ClientFor, startRgw, type Rgw } from '../support/ceph-rgw.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { seedImage, type SeededImage } from './support/images.ts';
import { skopeoCopy } from './support/skopeo-client.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';
import { startUpstreamRegistry, type UpstreamRegistry } from './support/upstream-registry.ts';

// Issue 10: a mirror configured with storage.s3 keeps everything in a real Ceph RGW bucket — a pull costs
// the upstream once, the second pull nothing, ranges are served from the bucket, and every object in the
// bucket hashes to its key's digest — and a real client (skopeo) pulls through it from a real registry.

const MiB = 1024 * 1024;
const Bucket = 'pullthrough-mirror';
const ACCESS = 'PT_E2E_S3_ACCESS_KEY';
const SECRET = 'PT_E2E_S3_SECRET_KEY';
let rgw: Rgw;
let admin: S3Client;

before(async () => {
  rgw = await startRgw();
  admin = s3ClientFor(rgw);
  await admin.send(new CreateBucketCommand({ Bucket }));
  process.env[ACCESS] = rgw.accessKeyId;
  process.env[SECRET] = rgw.secretAccessKey;
});
after(async () => {
  delete process.env[ACCESS];
  delete process.env[SECRET];
  admin?.destroy();
  await rgw?.stop();
});

function s3Storage(prefix: string): { s3: Record<string, unknown> } {
  return { s3: { endpoint: rgw.endpoint, bucket: Bucket, prefix, forcePathStyle: true, accessKeyEnv: ACCESS, secretKeyEnv: SECRET } };
}

/** Every object under `prefix`: [key, sha256 of its bytes as read back from the bucket]. */
async function bucketObjects(prefix: string): Promise<Array<[string, string]>> {
  const objects: Array<[string, string]> = [];
  const page = await admin.send(new ListObjectsV2Command({ Bucket, Prefix: prefix }));
  for (const object of page.Contents ?? []) {
    const out = await admin.send(new GetObjectCommand({ Bucket, Key: object.Key }));
    const hash = createHash('sha256');
    for await (const chunk of out.Body as AsyncIterable<Buffer>) hash.update(chunk);
    objects.push([object.Key as string, hash.digest('hex')]);
  }
  return objects;
}

async function assertBucketHoldsOnlyVerifiedBlobs(prefix: string, expected: string[]): Promise<void> {
  const objects = await bucketObjects(prefix);
  assert.deepEqual(objects.map(([key]) => key).sort(), expected.map((digest) => `${prefix}blobs/sha256/${digest.slice('sha256:'.length)}`).sort());
  for (const [key, hex] of objects) assert.equal(`${prefix}blobs/sha256/${hex}`, key, `${key} hashes to its key`);
  assert.equal((await admin.send(new ListMultipartUploadsCommand({ Bucket, Prefix: prefix }))).Uploads?.length ?? 0, 0, 'no multipart upload left');
}

test('a mirror on S3 pulls once, serves the second pull and ranges from the bucket, and keeps only verified objects', async (t) => {
  const upstream = await new MemoryRegistry().start();
  const prefix = 'memory/';
  const scratch = await makeTempDir('s3mirror');
  const mirror: TestMirror = await startMirror({ hub: { url: upstream.url } }, { extra: { storage: { ...s3Storage(prefix), path: scratch } } });
  t.after(async () => {
    await mirror.close();
    await upstream.stop();
    await removeTempDir(scratch);
  });
  const image = upstream.addImage('team/app', '1.0');
  const big = upstream.addRandomBlob(24 * MiB + 11);
  const pull = async (): Promise<void> => {
    const manifest = await fetch(`${mirror.url}/v2/team/app/manifests/1.0`);
    assert.equal(manifest.status, 200);
    assert.deepEqual(Buffer.from(await manifest.arrayBuffer()), image.manifest.bytes);
    for (const digest of [image.config, image.layer, big.digest]) {
      const blob = await fetch(`${mirror.url}/v2/team/app/blobs/${digest}`);
      assert.equal(blob.status, 200, digest);
      const bytes = Buffer.from(await blob.arrayBuffer());
      assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, digest);
    }
  };
  await pull();
  assert.ok(upstream.count({ kind: 'blob' }) >= 3, 'the first pull went upstream');
  await mirror.app.mirror.fills.get(parseDigest(big.digest) ?? assert.fail())?.finished;

  upstream.resetCounts();
  await pull();
  const ranged = await fetch(`${mirror.url}/v2/team/app/blobs/${big.digest}`, { headers: { range: `bytes=${9 * MiB}-${20 * MiB - 1}` } });
  assert.equal(ranged.status, 206);
  assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), big.bytes.subarray(9 * MiB, 20 * MiB));
  assert.equal(upstream.count(), 0, 'the second pull and the range came from the bucket');
  await assertBucketHoldsOnlyVerifiedBlobs(prefix, [image.digest, image.config, image.layer, big.digest]);
});

test('skopeo pulls through the S3-backed mirror from a real registry; the second pull costs the upstream nothing', async (t) => {
  const upstream: UpstreamRegistry = await startUpstreamRegistry({ auth: 'token' });
  const workDir = await makeTempDir('s3skopeo');
  const prefix = 'skopeo/';
  const images: SeededImage[] = [];
  for (const kind of ['oci', 'multi-arch'] as const) {
    images.push(await seedImage(upstream, { name: `library/s3-${kind}`, tag: 'v1', kind, extraLayerBytes: 6 * MiB }));
  }
  const upstreams: ConfigInput['upstreams'] = { dockerhub: { url: upstream.url, aliases: ['docker.io'], defaultNamespace: 'library', tagTtl: '1h' } };
  const mirror = await startMirror(upstreams, { keyv: 'configured', extra: { storage: { ...s3Storage(prefix), path: path.join(workDir, 'scratch') } } });
  t.after(async () => {
    await mirror.close();
    await upstream.stop();
    await removeTempDir(workDir);
  });
  const host = new URL(mirror.url).host;
  let n = 0;
  for (const image of images) {
    const copied = await skopeoCopy(`${host}/dockerhub/${image.name.replace(/^library\//, '')}:${image.tag}`, path.join(workDir, `a${n++}`), { all: true });
    assert.ok(copied.ok, copied.output);
    assert.equal(copied.digest, image.digest);
  }
  await mirror.app.mirror.fills.drain();
  upstream.resetCounts();
  for (const image of images) {
    const copied = await skopeoCopy(`${host}/docker.io/${image.name}:${image.tag}`, path.join(workDir, `b${n++}`), { all: true });
    assert.ok(copied.ok, copied.output);
    assert.equal(copied.digest, image.digest);
  }
  assert.equal(upstream.count(), 0, 'second pull: 0 upstream requests');
  const objects = await bucketObjects(prefix);
  assert.ok(objects.length >= 8, `manifests, configs and layers kept in the bucket (${objects.length})`);
  for (const [key, hex] of objects) assert.equal(`${prefix}blobs/sha256/${hex}`, key, `${key} hashes to its key`);
});


test('object storage down: kept and cold blobs answer 503 and /readyz fails, a write in flight keeps nothing; all recovers when it returns', async (t) => {
  const upstream = await new MemoryRegistry().start();
  const prefix = 'faults/';
  const scratch = await makeTempDir('s3faults');
  const mirror = await startMirror({ hub: { url: upstream.url } }, { extra: { storage: { ...s3Storage(prefix), path: scratch } } });
  t.after(async () => {
    await rgw.startGateway();
    await mirror.close();
    await upstream.stop();
    await removeTempDir(scratch);
  });
  upstream.addImage('team/app', '1.0');
  const kept = upstream.addRandomBlob(2 * MiB);
  assert.equal((await fetch(`${mirror.url}/v2/team/app/blobs/${kept.digest}`).then(async (r) => (await r.arrayBuffer(), r))).status, 200);
  await mirror.app.mirror.fills.get(parseDigest(kept.digest) ?? assert.fail())?.finished;

  // A write under way when the gateway goes: hashing goes on, nothing is kept, nothing partial is visible.
  const store = mirror.app.mirror.store;
  const bytes = Buffer.concat(Array.from({ length: 20 }, (_, i) => Buffer.alloc(MiB, i)));
  const writer = (await store.create('sha256', { streamThroughOnDiskError: true })).streamThroughOnDiskError();
  await writer.write(bytes.subarray(0, 10 * MiB));
  await rgw.stopGateway();
  for (let at = 10 * MiB; at < bytes.length; at += MiB) await writer.write(bytes.subarray(at, at + MiB));
  const digest = parseDigest(`sha256:${createHash('sha256').update(bytes).digest('hex')}`) ?? assert.fail();
  assert.notEqual(writer.storeError, undefined, 'the failed upload stopped the keeping, not the write');
  await writer.verify(digest);
  await assert.rejects(writer.persist(digest), /not kept|unavailable/);
  await writer.abort();

  upstream.resetCounts();
  const cold = upstream.addRandomBlob(MiB);
  for (const blob of [kept, cold]) {
    const answer = await fetch(`${mirror.url}/v2/team/app/blobs/${blob.digest}`);
    assert.equal(answer.status, 503, blob === kept ? 'kept' : 'cold');
    assert.equal(((await answer.json()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'UNAVAILABLE');
  }
  assert.equal(upstream.count(), 0, 'nothing fetched that could not be kept');
  assert.equal((await fetch(`${mirror.url}/readyz`)).status, 503);

  await rgw.startGateway();
  assert.equal((await fetch(`${mirror.url}/readyz`)).status, 200);
  for (const blob of [kept, cold]) {
    const answer = await fetch(`${mirror.url}/v2/team/app/blobs/${blob.digest}`);
    assert.equal(answer.status, 200);
    assert.deepEqual(Buffer.from(await answer.arrayBuffer()), blob.bytes);
  }
  await mirror.app.mirror.fills.get(parseDigest(cold.digest) ?? assert.fail())?.finished;
  // The dead write's upload is an orphan for the sweeper; no object under blobs/ ever held its bytes.
  await (store as unknown as { sweepOrphans(ageMs: number): Promise<unknown> }).sweepOrphans(0);
  await assertBucketHoldsOnlyVerifiedBlobs(prefix, [kept.digest, cold.digest]);
});

test('storage.maxSize holds on S3: a working set 6x the cap is pulled with the right bytes, the bucket stays under the cap', async (t) => {
  const upstream = await new MemoryRegistry().start();
  const prefix = 'cap/';
  const scratch = await makeTempDir('s3cap');
  const CAP = 256 * 1024;
  // Grace 0: in a real store nothing used in the last minutes goes; here everything is "minutes" old at once.
  const mirror = await startMirror(
    { hub: { url: upstream.url } },
    { extra: { storage: { ...s3Storage(prefix), path: scratch, maxSize: CAP, evictionGrace: '0s', evictionInterval: '1h' } } },
  );
  t.after(async () => {
    await mirror.close();
    await upstream.stop();
    await removeTempDir(scratch);
  });
  const images = Array.from({ length: 24 }, (_, i) => ({ repository: `cap/app${i}`, ...upstream.addImage(`cap/app${i}`, 'v1', 64 * 1024) }));
  const bucketBytes = async (): Promise<number> => {
    const page = await admin.send(new ListObjectsV2Command({ Bucket, Prefix: `${prefix}blobs/` }));
    return (page.Contents ?? []).reduce((sum, object) => sum + (object.Size ?? 0), 0);
  };
  let highest = 0;
  for (const image of images) {
    for (const [kind, ref] of [['manifests', 'v1'], ['blobs', image.config], ['blobs', image.layer]] as const) {
      const answer = await fetch(`${mirror.url}/v2/${image.repository}/${kind}/${ref}`);
      assert.equal(answer.status, 200, `${image.repository} ${ref}`);
      const body = Buffer.from(await answer.arrayBuffer());
      if (kind === 'blobs') assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, ref);
    }
    await mirror.app.mirror.fills.drain();
    await new Promise((resolve) => setImmediate(resolve));
    await mirror.app.mirror.eviction.idle();
    highest = Math.max(highest, await bucketBytes());
  }
  assert.ok(highest <= CAP, `the bucket peaked at ${highest} bytes once fills landed, cap ${CAP}`);
  upstream.resetCounts();
  const last = images.at(-1) ?? assert.fail();
  for (const ref of [last.config, last.layer]) assert.equal((await fetch(`${mirror.url}/v2/${last.repository}/blobs/${ref}`).then(async (r) => (await r.arrayBuffer(), r))).status, 200);
  assert.equal(upstream.count(), 0, 'what was pulled last is kept');
});

test('single flight on S3: 12 concurrent cold requests, slow readers among them, cost 1 upstream GET and all get verified bytes', async (t) => {
  const upstream = await new MemoryRegistry().start();
  const prefix = 'flight/';
  const scratch = await makeTempDir('s3flight');
  const mirror = await startMirror({ hub: { url: upstream.url } }, { extra: { storage: { ...s3Storage(prefix), path: scratch } } });
  t.after(async () => {
    await mirror.close();
    await upstream.stop();
    await removeTempDir(scratch);
  });
  upstream.addImage('team/app', '1.0');
  const blob = upstream.addRandomBlob(32 * MiB);
  const read = async (slow: boolean): Promise<string> => {
    const answer = await fetch(`${mirror.url}/v2/team/app/blobs/${blob.digest}`);
    assert.equal(answer.status, 200);
    const hash = createHash('sha256');
    let first = true;
    for await (const chunk of answer.body as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      // A slow reader falls out of the fill's 8 MiB memory window and reads the local scratch copy.
      if (slow && first) await new Promise((resolve) => setTimeout(resolve, 1500));
      first = false;
    }
    return `sha256:${hash.digest('hex')}`;
  };
  const digests = await Promise.all(Array.from({ length: 12 }, (_, i) => read(i % 3 === 0)));
  assert.deepEqual(new Set(digests), new Set([blob.digest]));
  assert.equal(upstream.count({ kind: 'blob' }), 1, 'one upstream GET for all of them');
  await mirror.app.mirror.fills.drain();
  await assertBucketHoldsOnlyVerifiedBlobs(prefix, [blob.digest]);
});
