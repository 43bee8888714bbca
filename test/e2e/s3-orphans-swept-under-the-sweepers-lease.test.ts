import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { CreateBucketCommand, CreateMultipartUploadCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pino from 'pino';
import { Evictor } from '../../src/eviction/evictor.ts';
import { SWEEP_LEASE_MS } from '../../src/eviction/sweep-lock.ts';
import { S3BlobStore } from '../../src/storage/s3-blob-store.ts';
import { s3ClientFor, startRgw, type Rgw } from '../support/ceph-rgw.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';

// Issue 10: orphaned temporary objects and incomplete multipart uploads in the bucket are removed by the
// one sweeper under its lease (the eviction sweeper), not by a timer in every replica's store; opening a
// store no longer lists the bucket for them.

const Bucket = 'pullthrough-orphans';
let rgw: Rgw;
let admin: S3Client;

before(async () => {
  rgw = await startRgw();
  admin = s3ClientFor(rgw);
  await admin.send(new CreateBucketCommand({ Bucket }));
});
after(async () => {
  admin?.destroy();
  await rgw?.stop();
});

test('on RGW, orphans go in a sweep that holds the lease, never in one that does not, nor at open', async (t) => {
  const prefix = `o-${randomUUID()}/`;
  const scratchDir = await makeTempDir('s3orphans');
  await admin.send(new PutObjectCommand({ Bucket, Key: `${prefix}uploads/${randomUUID()}`, Body: 'a finished temporary object' }));
  await admin.send(new CreateMultipartUploadCommand({ Bucket, Key: `${prefix}uploads/${randomUUID()}` }));
  const store = await S3BlobStore.open({ client: s3ClientFor(rgw), bucket: Bucket, prefix, scratchDir, orphanAgeMs: 0 });
  t.after(async () => {
    store.close();
    await removeTempDir(scratchDir);
  });
  const objects = async (): Promise<number> => ((await admin.send(new ListObjectsV2Command({ Bucket, Prefix: `${prefix}uploads/` }))).Contents ?? []).length;
  const uploads = async (): Promise<number> => ((await admin.send(new ListMultipartUploadsCommand({ Bucket, Prefix: prefix }))).Uploads ?? []).length;
  assert.deepEqual([await objects(), await uploads()], [1, 1], 'opening the store swept nothing');

  const sweeper = new Evictor({ store, log: pino({ level: 'silent' }), lock: store.lock('eviction', SWEEP_LEASE_MS), graceMs: 0, intervalMs: 0, orphanAgeMs: 0 });
  const other = await store.lock('eviction', SWEEP_LEASE_MS).tryAcquire();
  assert.ok(other);
  assert.equal((await sweeper.sweep()).status, 'busy');
  assert.deepEqual([await objects(), await uploads()], [1, 1], 'left for the lease holder');
  await other.release();
  assert.equal((await sweeper.sweep()).status, 'done');
  assert.deepEqual([await objects(), await uploads()], [0, 0], 'the sweeper removed both');
  await sweeper.stop();
});
