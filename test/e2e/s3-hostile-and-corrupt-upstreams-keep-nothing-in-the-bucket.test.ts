import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { ConfigInput } from '../../src/config.ts';
import { BaitServer } from '../support/bait-server.ts';
import { s3ClientFor, startRgw, type Rgw } from '../support/ceph-rgw.ts';
import { HostileRegistry } from '../support/hostile-registry.ts';
import { endlessBlob } from '../support/hostile/endless-blob.ts';
import { GIANT_LENGTH, giantContentLength } from '../support/hostile/giant-content-length.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';

// Issue 10, acceptance 1: the storage-independent hostile-input and corrupt-upstream cases
// (test/integration/hostile-upstream-giant-content-length-refused, -endless-blob-cut-at-max-size,
// corrupt-upstream-blob-never-kept) run again with the blobs in a real Ceph RGW bucket: the same answers
// to the client, and nothing kept in the bucket — no object under blobs/ or uploads/, no multipart upload.

const MAX_BLOB = 1024 * 1024;
const Bucket = 'pullthrough-hostile';
const ACCESS = 'PT_E2E_S3_HOSTILE_ACCESS_KEY';
const SECRET = 'PT_E2E_S3_HOSTILE_SECRET_KEY';
let rgw: Rgw;
let admin: S3Client;
let bait: BaitServer;

before(async () => {
  rgw = await startRgw();
  admin = s3ClientFor(rgw);
  await admin.send(new CreateBucketCommand({ Bucket }));
  process.env[ACCESS] = rgw.accessKeyId;
  process.env[SECRET] = rgw.secretAccessKey;
  bait = await new BaitServer().start();
});
after(async () => {
  delete process.env[ACCESS];
  delete process.env[SECRET];
  await bait?.stop();
  admin?.destroy();
  await rgw?.stop();
});

async function mirrorOnS3(t: { after(fn: () => Promise<void>): void }, url: string, prefix: string, extra: Partial<ConfigInput> = {}): Promise<TestMirror> {
  const scratch = await makeTempDir('s3hostile');
  const s3 = { endpoint: rgw.endpoint, bucket: Bucket, prefix, forcePathStyle: true, accessKeyEnv: ACCESS, secretKeyEnv: SECRET };
  const mirror = await startMirror({ hub: { url } }, { extra: { ...extra, storage: { s3, path: scratch } } });
  t.after(async () => {
    await mirror.close();
    await removeTempDir(scratch);
  });
  return mirror;
}

/** Everything under `prefix` in the bucket: object keys and multipart uploads. */
async function bucketHolds(prefix: string): Promise<{ objects: string[]; uploads: number }> {
  const objects = ((await admin.send(new ListObjectsV2Command({ Bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key as string);
  const uploads = ((await admin.send(new ListMultipartUploadsCommand({ Bucket, Prefix: prefix }))).Uploads ?? []).length;
  return { objects, uploads };
}

test('on S3: a blob announced at a petabyte is refused before a byte is stored; the bucket holds nothing', async (t) => {
  const attack = giantContentLength();
  const upstream = await new HostileRegistry(attack.scenario, bait).start();
  t.after(() => upstream.stop());
  const prefix = 'giant/';
  const mirror = await mirrorOnS3(t, upstream.url, prefix, { limits: { maxBlobSize: MAX_BLOB } });
  const digest = `sha256:${'ab'.repeat(32)}`;
  const response = await fetch(`${mirror.url}/v2/evil/app/blobs/${digest}`, { signal: AbortSignal.timeout(5000) });
  assert.notEqual(response.headers.get('content-length'), String(GIANT_LENGTH));
  const text = await response.text();
  assert.equal(response.status, 403, text);
  for (let i = 0; i < 50 && attack.stats.closedByMirror < 1; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(attack.stats.closedByMirror, 1, 'the mirror kept reading the upstream answer');
  assert.deepEqual(await bucketHolds(prefix), { objects: [], uploads: 0 });
});

test('on S3: an endless blob is cut at maxBlobSize, the client transfer fails, no object or upload is left', async (t) => {
  const attack = endlessBlob();
  const upstream = await new HostileRegistry(attack.scenario, bait).start();
  t.after(() => upstream.stop());
  const prefix = 'endless/';
  const mirror = await mirrorOnS3(t, upstream.url, prefix, { limits: { maxBlobSize: MAX_BLOB } });
  const digest = `sha256:${'cd'.repeat(32)}`;
  const controller = new AbortController();
  const response = await fetch(`${mirror.url}/v2/evil/app/blobs/${digest}`, { signal: controller.signal });
  let received = 0;
  let failed = false;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      received += chunk.length;
      if (received > 16 * MAX_BLOB) {
        controller.abort();
        break;
      }
    }
  } catch {
    failed = true;
  }
  assert.ok(received <= MAX_BLOB, `client received ${received} bytes, more than maxBlobSize ${MAX_BLOB}`);
  assert.ok(failed || response.status !== 200, 'the client transfer completed as if the blob were whole');
  await mirror.app.mirror.fills.get({ algorithm: 'sha256', hex: digest.slice(7), text: digest })?.finished.catch(() => undefined);
  for (let i = 0; i < 50 && attack.stats.closedByMirror < 1; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(attack.stats.closedByMirror, 1, 'the mirror kept reading the endless body');
  // The aborted write's upload goes with it (abort: DeleteObject and AbortMultipartUpload), not later.
  let holds = await bucketHolds(prefix);
  for (let i = 0; i < 50 && (holds.objects.length > 0 || holds.uploads > 0); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    holds = await bucketHolds(prefix);
  }
  assert.deepEqual(holds, { objects: [], uploads: 0 });
});

test('on S3: bytes that do not match the digest are never kept; the next pull keeps the right ones', async (t) => {
  const upstream = await new MemoryRegistry().start();
  t.after(() => upstream.stop());
  const prefix = 'corrupt/';
  const mirror = await mirrorOnS3(t, upstream.url, prefix);
  upstream.addImage('bad/app', 'v1');
  // Above the store's multipart part size would take long on memstore; 512 KiB is one PutObject.
  const { digest, bytes } = upstream.addRandomBlob(512 * 1024);
  upstream.corruptBlobs = true;
  const response = await fetch(`${mirror.url}/v2/bad/app/blobs/${digest}`);
  await assert.rejects(response.arrayBuffer(), 'the transfer fails instead of completing');
  const parsed = { algorithm: 'sha256' as const, hex: digest.slice(7), text: digest };
  await mirror.app.mirror.fills.get(parsed)?.finished.catch(() => undefined);
  assert.equal(await mirror.app.mirror.store.stat(parsed), undefined);
  assert.deepEqual(await mirror.app.mirror.store.inFlight(), { writes: 0, bytes: 0 });
  assert.deepEqual(await bucketHolds(prefix), { objects: [], uploads: 0 });

  upstream.corruptBlobs = false;
  upstream.resetCounts();
  const retry = await fetch(`${mirror.url}/v2/bad/app/blobs/${digest}`);
  assert.equal(retry.status, 200);
  assert.deepEqual(Buffer.from(await retry.arrayBuffer()), bytes);
  assert.equal(upstream.count({ method: 'GET', kind: 'blob' }), 1);
  await mirror.app.mirror.fills.get(parsed)?.finished;
  assert.deepEqual(await bucketHolds(prefix), { objects: [`${prefix}blobs/sha256/${digest.slice(7)}`], uploads: 0 });
});
