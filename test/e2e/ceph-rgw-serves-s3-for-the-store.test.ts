import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  type GetObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { s3ClientFor, s3ConfigFor, startRgw, type Rgw } from '../support/ceph-rgw.ts';

// Issue 10: before an S3 blob store is written, prove that the real S3 server the tests will use (Ceph RGW,
// started by test/support/ceph-rgw.ts) does every operation the store needs, with the SDK set up as the
// store will set it up — and record what it does not do, so the store does not rely on it.

const MiB = 2 ** 20;
const Bucket = 'pullthrough-s3-proof';
let rgw: Rgw;
let s3: S3Client;

before(async () => {
  rgw = await startRgw();
  s3 = s3ClientFor(rgw);
  await s3.send(new CreateBucketCommand({ Bucket }));
});
after(async () => {
  s3?.destroy();
  await rgw?.stop();
});

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function bodyOf(out: GetObjectCommandOutput): Promise<Buffer> {
  assert.ok(out.Body, 'a body');
  return Buffer.from(await out.Body.transformToByteArray());
}

async function status(work: Promise<unknown>): Promise<number | undefined> {
  try {
    const out = (await work) as { $metadata: { httpStatusCode?: number } };
    return out.$metadata.httpStatusCode;
  } catch (e) {
    if (e instanceof S3ServiceException) return e.$metadata.httpStatusCode;
    throw e;
  }
}

/** `total` random bytes in uneven chunks, hashed as they are made: a fill whose length is not known up front. */
function unknownLengthStream(total: number): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256');
  let left = total;
  const stream = Readable.from(
    (function* () {
      while (left > 0) {
        const n = Math.min(left, 1 + Math.floor(Math.random() * 700 * 1024));
        const chunk = randomBytes(n);
        hash.update(chunk);
        left -= n;
        yield chunk;
      }
    })(),
  );
  return { stream, digest: () => hash.digest('hex') };
}

test('RGW starts in under 40 s and answers as the created user', async (t) => {
  t.diagnostic(`RGW start ${(rgw.startMs / 1000).toFixed(1)} s (mon + osd on memstore + radosgw + S3 user)`);
  const rss = Object.entries(rgw.pids()).map(([name, pid]) => `${name} ${rssMiB(pid)} MiB`);
  t.diagnostic(`RSS idle: ${rss.join(', ')}`);
  assert.ok(rgw.startMs < 40_000, `started in ${rgw.startMs} ms`);
  assert.equal(await status(s3.send(new HeadBucketCommand({ Bucket }))), 200);
  const stranger = new S3Client({ ...s3ConfigFor(rgw), credentials: { accessKeyId: 'NOBODY', secretAccessKey: 'nothing' } });
  assert.equal(await status(stranger.send(new HeadBucketCommand({ Bucket }))), 403, 'unknown credentials are refused');
  stranger.destroy();
});

test('a streamed upload of unknown length goes multipart and keeps exactly its bytes', async () => {
  const { stream, digest } = unknownLengthStream(12 * MiB);
  const upload = new Upload({ client: s3, params: { Bucket, Key: 'fills/unknown-length', Body: stream }, partSize: 5 * MiB, queueSize: 2 });
  await upload.done();
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'fills/unknown-length' }));
  assert.match(head.ETag ?? '', /-3"$/, 'three parts (5 + 5 + 2 MiB): a multipart upload');
  const out = await s3.send(new GetObjectCommand({ Bucket, Key: 'fills/unknown-length' }));
  const bytes = await bodyOf(out);
  assert.equal(bytes.length, 12 * MiB);
  assert.equal(sha256(bytes), digest());
});

test('ranged GETs return exactly the asked bytes (206), as blob resumes need', async () => {
  const data = randomBytes(3 * MiB + 17);
  await s3.send(new PutObjectCommand({ Bucket, Key: 'ranges/blob', Body: data }));
  const cases: [string, number, number][] = [
    ['bytes=1000-2999', 1000, 2999],
    [`bytes=${MiB}-`, MiB, data.length - 1],
    ['bytes=-500', data.length - 500, data.length - 1],
    ['bytes=0-0', 0, 0],
  ];
  for (const [Range, first, last] of cases) {
    const out = await s3.send(new GetObjectCommand({ Bucket, Key: 'ranges/blob', Range }));
    assert.equal(out.$metadata.httpStatusCode, 206, Range);
    assert.equal(out.ContentRange, `bytes ${first}-${last}/${data.length}`, Range);
    assert.equal(out.ContentLength, last - first + 1, Range);
    assert.ok((await bodyOf(out)).equals(data.subarray(first, last + 1)), Range);
  }
  assert.equal(
    await status(s3.send(new GetObjectCommand({ Bucket, Key: 'ranges/blob', Range: `bytes=${data.length}-` }))),
    416,
    'a range past the end is 416',
  );
});

test('HEAD gives the size; a missing key is 404', async () => {
  await s3.send(new PutObjectCommand({ Bucket, Key: 'head/one', Body: randomBytes(123_457) }));
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'head/one' }));
  assert.equal(head.ContentLength, 123_457);
  assert.ok(head.LastModified instanceof Date);
  assert.equal(await status(s3.send(new HeadObjectCommand({ Bucket, Key: 'head/none' }))), 404);
});

test('commit by copy: CopyObject to the final key, DeleteObject the temporary one', async () => {
  const { stream, digest } = unknownLengthStream(7 * MiB);
  await new Upload({ client: s3, params: { Bucket, Key: 'tmp/fill-1', Body: stream }, partSize: 5 * MiB }).done();
  const expected = digest();
  const copied = await s3.send(new CopyObjectCommand({ Bucket, Key: `blobs/sha256/${expected}`, CopySource: `${Bucket}/tmp/fill-1` }));
  assert.equal(copied.$metadata.httpStatusCode, 200);
  await s3.send(new DeleteObjectCommand({ Bucket, Key: 'tmp/fill-1' }));
  assert.equal(await status(s3.send(new HeadObjectCommand({ Bucket, Key: 'tmp/fill-1' }))), 404, 'the temporary key is gone');
  const kept = await bodyOf(await s3.send(new GetObjectCommand({ Bucket, Key: `blobs/sha256/${expected}` })));
  assert.equal(sha256(kept), expected, 'the copy (of a multipart object) hashes to its key');
  assert.equal(await status(s3.send(new DeleteObjectCommand({ Bucket, Key: 'tmp/never-there' }))), 204, 'deleting a missing key is not an error');
});

test('conditional create: PutObject If-None-Match * is 412 on an existing key, 200 on a new one, one winner in a race', async () => {
  assert.equal(await status(s3.send(new PutObjectCommand({ Bucket, Key: 'cond/a', Body: 'first', IfNoneMatch: '*' }))), 200);
  assert.equal(await status(s3.send(new PutObjectCommand({ Bucket, Key: 'cond/a', Body: 'second', IfNoneMatch: '*' }))), 412);
  assert.equal((await bodyOf(await s3.send(new GetObjectCommand({ Bucket, Key: 'cond/a' })))).toString(), 'first');
  const race = await Promise.all(
    Array.from({ length: 8 }, (_, i) => status(s3.send(new PutObjectCommand({ Bucket, Key: 'cond/race', Body: `writer ${i}`, IfNoneMatch: '*' })))),
  );
  assert.deepEqual(race.filter((s) => s === 200).length, 1, `one 200 among ${race.join(' ')}`);
  assert.deepEqual(race.filter((s) => s === 412).length, 7);
});

test('RGW 16 ignores If-None-Match on CopyObject and CompleteMultipartUpload: the store must not rely on them', async () => {
  // AWS honours both (since 2024); RGW 16 overwrites. For content-addressed keys an overwrite writes the
  // same bytes, so the store can commit by an unconditional copy. If this starts failing, RGW learned them.
  await s3.send(new PutObjectCommand({ Bucket, Key: 'cond/existing', Body: 'old' }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'cond/source', Body: 'copied' }));
  const copy = s3.send(new CopyObjectCommand({ Bucket, Key: 'cond/existing', CopySource: `${Bucket}/cond/source`, IfNoneMatch: '*' }));
  assert.equal(await status(copy), 200);
  assert.equal((await bodyOf(await s3.send(new GetObjectCommand({ Bucket, Key: 'cond/existing' })))).toString(), 'copied');

  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'cond/existing' }));
  const part = await s3.send(new UploadPartCommand({ Bucket, Key: 'cond/existing', UploadId, PartNumber: 1, Body: Buffer.from('multipart') }));
  const complete = s3.send(
    new CompleteMultipartUploadCommand({ Bucket, Key: 'cond/existing', UploadId, IfNoneMatch: '*', MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }),
  );
  assert.equal(await status(complete), 200);
  assert.equal((await bodyOf(await s3.send(new GetObjectCommand({ Bucket, Key: 'cond/existing' })))).toString(), 'multipart');
});

test('ListObjectsV2 pages through a prefix and groups by delimiter', async () => {
  const keys = Array.from({ length: 7 }, (_, i) => `list/p/${String(i).padStart(2, '0')}`);
  await Promise.all([...keys, 'list/q/x', 'list/q/y', 'listing-elsewhere'].map((Key) => s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }))));
  const pages: string[][] = [];
  const truncated: (boolean | undefined)[] = [];
  let ContinuationToken: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'list/p/', MaxKeys: 3, ContinuationToken }));
    pages.push((page.Contents ?? []).map((o) => o.Key ?? ''));
    truncated.push(page.IsTruncated);
    assert.ok((page.Contents ?? []).every((o) => o.Size === (o.Key ?? '').length && o.LastModified instanceof Date));
    ContinuationToken = page.NextContinuationToken;
  } while (ContinuationToken);
  assert.deepEqual(pages.map((p) => p.length), [3, 3, 1]);
  assert.deepEqual(truncated, [true, true, false]);
  assert.deepEqual(pages.flat(), keys);
  const grouped = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'list/', Delimiter: '/' }));
  assert.deepEqual((grouped.CommonPrefixes ?? []).map((p) => p.Prefix), ['list/p/', 'list/q/']);
});

test('an orphaned multipart upload is listed (with its start time) and aborted, leaving nothing', async () => {
  const Key = 'tmp/orphan';
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
  await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: randomBytes(5 * MiB) }));
  const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: 'tmp/' }));
  const mine = (listed.Uploads ?? []).find((u) => u.UploadId === UploadId);
  assert.ok(mine, 'the upload is listed');
  assert.equal(mine.Key, Key);
  assert.ok(mine.Initiated instanceof Date && Math.abs(Date.now() - mine.Initiated.getTime()) < 60_000, 'with when it started');
  assert.equal(await status(s3.send(new HeadObjectCommand({ Bucket, Key }))), 404, 'an incomplete upload is no object');

  assert.equal(await status(s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }))), 204);
  const after = await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: 'tmp/' }));
  assert.equal((after.Uploads ?? []).some((u) => u.UploadId === UploadId), false);
  assert.equal(await status(s3.send(new ListPartsCommand({ Bucket, Key, UploadId }))), 404, 'NoSuchUpload');
});

test('a presigned GET URL serves the object (and ranges) to plain fetch; a tampered one is refused', async () => {
  const data = randomBytes(2 * MiB + 3);
  await s3.send(new PutObjectCommand({ Bucket, Key: 'presign/blob', Body: data }));
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'presign/blob' }), { expiresIn: 60 });
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-length'), String(data.length));
  assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(data));

  const ranged = await fetch(url, { headers: { range: 'bytes=100-199' } });
  assert.equal(ranged.status, 206, 'Range is not part of the signature: clients can resume through a redirect');
  assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(data.subarray(100, 200)));

  const tampered = new URL(url);
  const signature = tampered.searchParams.get('X-Amz-Signature') ?? '';
  tampered.searchParams.set('X-Amz-Signature', `${signature.startsWith('0') ? '1' : '0'}${signature.slice(1)}`);
  const refused = await fetch(tampered);
  await refused.arrayBuffer();
  assert.equal(refused.status, 403);
});

test('with the SDK default checksums RGW refuses a streamed PutObject (411); WHEN_REQUIRED stores it byte-exact', async () => {
  const data = randomBytes(256 * 1024);
  const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  const defaults = new S3Client({ ...s3ConfigFor(rgw), requestChecksumCalculation: undefined, responseChecksumValidation: undefined, logger: quiet });
  try {
    const sent = defaults.send(new PutObjectCommand({ Bucket, Key: 'checksum/default', Body: Readable.from([data]), ContentLength: data.length }));
    assert.equal(await status(sent), 411, 'aws-chunked with a trailing checksum is refused (MissingContentLength)');
  } finally {
    defaults.destroy();
  }
  await s3.send(new PutObjectCommand({ Bucket, Key: 'checksum/when-required', Body: Readable.from([data]), ContentLength: data.length }));
  const kept = await bodyOf(await s3.send(new GetObjectCommand({ Bucket, Key: 'checksum/when-required' })));
  assert.equal(sha256(kept), sha256(data), 'no aws-chunked framing stored');
});

test('the gateway can be killed and started again; the objects are still there', async (t) => {
  await s3.send(new PutObjectCommand({ Bucket, Key: 'restart/kept', Body: 'survives' }));
  await rgw.stopGateway();
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: 'restart/kept' })), /ECONNREFUSED/);
  const started = Date.now();
  await rgw.startGateway();
  t.diagnostic(`gateway restart ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.equal((await bodyOf(await s3.send(new GetObjectCommand({ Bucket, Key: 'restart/kept' })))).toString(), 'survives');
  const put = Date.now();
  await s3.send(new PutObjectCommand({ Bucket, Key: 'restart/new', Body: 'after' }));
  t.diagnostic(`first PUT after restart ${Date.now() - put} ms`);
});

test('64 MiB PUT (multipart) and GET (streamed) throughput, for the record', async (t) => {
  const data = randomBytes(64 * MiB);
  const putStart = performance.now();
  await new Upload({ client: s3, params: { Bucket, Key: 'bench/64m', Body: Readable.from(chunks(data, MiB)) }, partSize: 8 * MiB, queueSize: 4 }).done();
  const putS = (performance.now() - putStart) / 1000;

  const getStart = performance.now();
  const out = await s3.send(new GetObjectCommand({ Bucket, Key: 'bench/64m' }));
  assert.ok(out.Body instanceof Readable, 'a Node stream: bytes arrive as they come, nothing buffered whole');
  const hash = createHash('sha256');
  let n = 0;
  for await (const chunk of out.Body as AsyncIterable<Buffer>) {
    hash.update(chunk);
    n += chunk.length;
  }
  const getS = (performance.now() - getStart) / 1000;
  t.diagnostic(`64 MiB PUT ${(64 / putS).toFixed(0)} MiB/s (${putS.toFixed(2)} s), GET ${(64 / getS).toFixed(0)} MiB/s (${getS.toFixed(2)} s)`);
  const rss = Object.entries(rgw.pids()).map(([name, pid]) => `${name} ${rssMiB(pid)} MiB`);
  t.diagnostic(`RSS after the tests: ${rss.join(', ')}`);
  assert.equal(n, data.length);
  assert.equal(hash.digest('hex'), sha256(data));
});

function* chunks(data: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

function rssMiB(pid: number): string {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return (kb / 1024).toFixed(0);
  } catch {
    return '?';
  }
}
