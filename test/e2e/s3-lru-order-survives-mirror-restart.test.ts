import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { CreateBucketCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { parseDigest } from '../../src/reference.ts';
import { s3ClientFor, startRgw, type Rgw } from '../support/ceph-rgw.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror } from '../support/mirror.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';

// Issue 10: on S3 the LRU order lives in the metadata store, not in object mtimes (an object's
// LastModified is its commit time) nor in one process's memory. Three blobs are kept in the order a, b, c
// (a second apart, so their LastModified differ); then a is used again; the mirror restarts with a cap that
// holds two of them. Its first sweep must evict b — the least recently used — not a, the oldest object.

const MiB = 1024 * 1024;
const Bucket = 'pullthrough-lru';
const ACCESS = 'PT_E2E_S3_LRU_ACCESS_KEY';
const SECRET = 'PT_E2E_S3_LRU_SECRET_KEY';
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

test('on S3 the LRU order survives a mirror restart: the sweep after it evicts the least recently used blob, not the oldest object', async (t) => {
  const upstream = await new MemoryRegistry().start();
  const prefix = 'lru/';
  const scratch = await makeTempDir('s3lru');
  t.after(async () => {
    await upstream.stop();
    await removeTempDir(scratch);
  });
  const s3 = { endpoint: rgw.endpoint, bucket: Bucket, prefix, forcePathStyle: true, accessKeyEnv: ACCESS, secretKeyEnv: SECRET };
  upstream.addImage('team/app', '1.0');
  const a = upstream.addRandomBlob(MiB);
  const b = upstream.addRandomBlob(MiB);
  const c = upstream.addRandomBlob(MiB);
  const get = async (url: string, digest: string): Promise<void> => {
    const response = await fetch(`${url}/v2/team/app/blobs/${digest}`);
    assert.equal(response.status, 200, digest);
    await response.arrayBuffer();
  };

  // Embedded metadata (no Redis): the log in the scratch dir is what the restarted mirror reads.
  const first = await startMirror({ hub: { url: upstream.url } }, { keyv: 'configured', storage: scratch, extra: { storage: { s3, path: scratch, evictionGrace: '0s', evictionInterval: '1h' } } });
  for (const blob of [a, b, c]) {
    await get(first.url, blob.digest);
    await first.app.mirror.fills.get(parseDigest(blob.digest) ?? assert.fail())?.finished;
    await sleep(1_100);
  }
  await get(first.url, a.digest);
  await first.close({ keepStorage: true });
  assert.equal(upstream.count({ kind: 'blob' }), 3);

  const second = await startMirror(
    { hub: { url: upstream.url } },
    { keyv: 'configured', storage: scratch, extra: { storage: { s3, path: scratch, maxSize: 2 * MiB + MiB / 2, evictionGrace: '0s', evictionInterval: '1h' } } },
  );
  t.after(() => second.close({ keepStorage: true }));
  // The start sweep (evictionInterval > 0 sweeps at start).
  await second.app.mirror.eviction.idle();
  const result = await second.app.mirror.eviction.sweep();
  assert.equal(result.status, 'done');
  const keys = (await admin.send(new ListObjectsV2Command({ Bucket, Prefix: `${prefix}blobs/` }))).Contents?.map((o) => o.Key) ?? [];
  const kept = (digest: string): boolean => keys.includes(`${prefix}blobs/sha256/${digest.slice('sha256:'.length)}`);
  assert.deepEqual({ a: kept(a.digest), b: kept(b.digest), c: kept(c.digest) }, { a: true, b: false, c: true }, 'b, the least recently used, went; a, the oldest object, stayed');
});
