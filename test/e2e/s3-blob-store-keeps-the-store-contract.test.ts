import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { parseConfig } from '../../src/config.ts';
import { isNotKept } from '../../src/storage/blob-store.ts';
import { openBlobStore } from '../../src/storage/open-blob-store.ts';
import { S3BlobStore, type S3BlobStoreOptions } from '../../src/storage/s3-blob-store.ts';
import { blobStoreContract, digestOf } from '../support/blob-store-contract.ts';
import { s3ClientFor, startRgw, type Rgw } from '../support/ceph-rgw.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';

// Issue 10: the S3 store keeps the same contract as the filesystem and in-memory stores — against a real
// Ceph RGW (test/support/ceph-rgw.ts), not a fake — and what only object storage needs: a verified commit
// of a large (multipart) write, the copy in parts above the single-copy limit, a process killed mid-upload
// leaving no visible partial object and its orphan cleaned, and start-up refusing an unusable bucket.

const MiB = 1024 * 1024;
const Bucket = 'pullthrough-store';
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

/** A store on a fresh key prefix of the shared bucket, with its own scratch dir. */
async function s3Store(t: { after(fn: () => Promise<void> | void): void }, options: Partial<S3BlobStoreOptions> = {}): Promise<S3BlobStore> {
  const scratchDir = await makeTempDir('s3scratch');
  const store = await S3BlobStore.open({ client: s3ClientFor(rgw), bucket: Bucket, prefix: `t-${randomUUID()}/`, scratchDir, ...options });
  t.after(async () => {
    store.close();
    await removeTempDir(scratchDir);
  });
  return store;
}

async function keys(prefix: string): Promise<string[]> {
  const out = await admin.send(new ListObjectsV2Command({ Bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key as string);
}

async function multipartUploads(prefix: string): Promise<number> {
  return ((await admin.send(new ListMultipartUploadsCommand({ Bucket, Prefix: prefix }))).Uploads ?? []).length;
}

blobStoreContract('the S3 store on Ceph RGW', (t) => s3Store(t));

describe('the S3 store on Ceph RGW, beyond the contract', () => {
  test('a large write goes multipart to a temporary key and only a verified copy is kept; the temporary key goes', async (t) => {
    const prefix = `big-${randomUUID()}/`;
    const store = await s3Store(t, { prefix, partSize: 5 * MiB });
    const bytes = randomBytes(12 * MiB + 3);
    const digest = digestOf(bytes);
    const writer = await store.create('sha256');
    for (let at = 0; at < bytes.length; at += 700_000) await writer.write(bytes.subarray(at, at + 700_000));
    assert.deepEqual(await keys(`${prefix}blobs/`), [], 'nothing visible before the commit');
    assert.equal(await multipartUploads(`${prefix}uploads/`), 1, 'the write is a multipart upload in flight');
    await writer.commit(digest);
    assert.deepEqual(await keys(prefix), [`${prefix}blobs/sha256/${digest.hex}`], 'only the content-addressed key remains');
    assert.equal(await multipartUploads(prefix), 0);
    const ranged = await admin.send(new GetObjectCommand({ Bucket, Key: `${prefix}blobs/sha256/${digest.hex}`, Range: 'bytes=5242870-5242889' }));
    assert.deepEqual(Buffer.from(await (ranged.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()), bytes.subarray(5242870, 5242890));
  });

  test('above the single-copy limit the commit copies in parts (UploadPartCopy), and the copy hashes to its key', async (t) => {
    const store = await s3Store(t, { partSize: 5 * MiB, singleCopyLimit: 6 * MiB, copyPartSize: 5 * MiB });
    const bytes = randomBytes(11 * MiB + 5);
    const digest = digestOf(bytes);
    await store.put(digest, bytes);
    const kept = (await store.readAll(digest)) ?? assert.fail('kept');
    assert.equal(digestOf(kept).hex, digest.hex);
  });

  test('a write whose upload is aborted leaves no multipart upload and no temporary key', async (t) => {
    const prefix = `abort-${randomUUID()}/`;
    const store = await s3Store(t, { prefix, partSize: 5 * MiB });
    const writer = await store.create('sha256');
    await writer.write(randomBytes(11 * MiB));
    await assert.rejects(writer.commit(digestOf(randomBytes(4))), /does not match/);
    assert.deepEqual(await keys(prefix), []);
    assert.equal(await multipartUploads(prefix), 0);
  });

  test('kill -9 mid-upload leaves no visible partial object; the orphan is removed once old enough', async (t) => {
    const prefix = `crash-${randomUUID()}/`;
    const scratchDir = await makeTempDir('s3crash');
    t.after(() => removeTempDir(scratchDir));
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./support/s3-writer-child.ts', import.meta.url))], {
      env: {
        ...process.env, S3_ENDPOINT: rgw.endpoint, S3_ACCESS_KEY: rgw.accessKeyId, S3_SECRET_KEY: rgw.secretAccessKey,
        S3_BUCKET: Bucket, S3_PREFIX: prefix, SCRATCH_DIR: scratchDir, WRITE_BYTES: String(20 * MiB),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await Promise.race([once(child.stdout, 'data'), once(child, 'exit').then(() => assert.fail(`the writer exited early: ${out}`))]);
    assert.match(out, /^written /);
    child.kill('SIGKILL');
    await once(child, 'exit');

    assert.deepEqual(await keys(`${prefix}blobs/`), [], 'no kept object after the crash');
    assert.equal(await multipartUploads(`${prefix}uploads/`), 1, 'the dead write left an incomplete multipart upload');
    // A young orphan may be a live write of another replica: left alone at the default age.
    const fresh = await s3Store(t, { prefix });
    assert.deepEqual(await fresh.sweepOrphans(), { objects: 0, uploads: 0 });
    // Once old enough (here: age 0), the sweep removes it.
    await admin.send(new PutObjectCommand({ Bucket, Key: `${prefix}uploads/${randomUUID()}`, Body: 'a finished temporary object' }));
    assert.deepEqual(await fresh.sweepOrphans(0), { objects: 1, uploads: 1 });
    assert.equal(await multipartUploads(prefix), 0);
    assert.deepEqual(await keys(prefix), []);
    assert.deepEqual(await fresh.usage(), { blobs: 0, bytes: 0 });
  });

  test('a removed blob that is still being read stays readable to its reader and is gone for everyone else', async (t) => {
    const prefix = `rm-${randomUUID()}/`;
    const store = await s3Store(t, { prefix });
    const bytes = randomBytes(50_000);
    const digest = digestOf(bytes);
    await store.put(digest, bytes);
    const reader = (await store.openInFlight(digest)) ?? assert.fail('kept');
    await store.remove(digest);
    assert.equal(await store.stat(digest), undefined);
    await assert.rejects(
      (async () => {
        for await (const chunk of store.open(digest)) void chunk;
      })(),
      (error: unknown) => isNotKept(error),
    );
    assert.deepEqual(await reader.read(0, bytes.length), bytes);
    await reader.close();
    assert.deepEqual(await keys(prefix), [], 'deleted once its last reader closed');
  });

  test('start-up refuses, with one clear message, a missing bucket, refused credentials, an unreachable endpoint, an unset secret', async (t) => {
    const scratch = await makeTempDir('s3cfg');
    t.after(() => removeTempDir(scratch));
    const env = { PT_TEST_S3_ACCESS: rgw.accessKeyId, PT_TEST_S3_SECRET: rgw.secretAccessKey };
    Object.assign(process.env, env);
    t.after(() => {
      for (const key of Object.keys(env)) delete process.env[key];
    });
    const configWith = (s3: Record<string, unknown>) =>
      parseConfig({
        storage: { path: scratch, s3: { endpoint: rgw.endpoint, bucket: Bucket, forcePathStyle: true, accessKeyEnv: 'PT_TEST_S3_ACCESS', secretKeyEnv: 'PT_TEST_S3_SECRET', ...s3 } },
        upstreams: { hub: { url: 'http://127.0.0.1:1' } },
      });
    const good = await openBlobStore(configWith({}));
    await good.probe();
    (good as S3BlobStore).close();
    await assert.rejects(openBlobStore(configWith({ bucket: 'no-such-bucket' })), /storage\.s3\.bucket: bucket "no-such-bucket" does not exist/);
    await assert.rejects(openBlobStore(configWith({ secretKeyEnv: 'PT_TEST_S3_ACCESS' })), /storage\.s3: the credentials were refused .* \(HTTP 403\)/);
    await assert.rejects(openBlobStore(configWith({ endpoint: 'http://127.0.0.1:9' })), /storage\.s3\.endpoint: http:\/\/127\.0\.0\.1:9 cannot be reached/);
    await assert.rejects(openBlobStore(configWith({ accessKeyEnv: 'PT_TEST_S3_UNSET' })), /storage\.s3\.accessKeyEnv: environment variable PT_TEST_S3_UNSET is not set/);
  });
});
