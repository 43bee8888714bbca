import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { s3ClientFor, startRgw, type Rgw } from '../support/ceph-rgw.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { type MirrorProcess, startMirrorProcess, writeMirrorConfig } from './support/mirror-process.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';

// Issue 10, acceptance 3: three replica processes share one Redis and one RGW bucket and NO directory
// (each has its own storage.path as scratch). A multipart upload in progress cannot be read, so followers
// stream the leader's fill from its internal endpoint (replicas.secretEnv + advertise): 30 concurrent cold
// requests over the 3 cost 1 upstream GET and all get their first bytes while the upstream still sends;
// with the leader SIGKILLed mid-fill, the followers still get whole verified bodies from a takeover, with
// at most 2 upstream GETs and nothing partial left in the bucket.

const REDIS_URL = process.env.PULLTHROUGH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const Bucket = 'pullthrough-replicas';
const ACCESS = 'PT_E2E_REPLICAS_S3_ACCESS_KEY';
const SECRET = 'PT_E2E_REPLICAS_S3_SECRET_KEY';
const REPLICA_SECRET = 'PT_E2E_REPLICA_SECRET';
const KiB = 1024;
const prefix = `replicas-${randomBytes(4).toString('hex')}/`;
let rgw: Rgw;
let admin: S3Client;
let upstream: MemoryRegistry;
let dir: string;
let replicas: MirrorProcess[] = [];

before(async () => {
  rgw = await startRgw();
  admin = s3ClientFor(rgw);
  await admin.send(new CreateBucketCommand({ Bucket }));
  process.env[ACCESS] = rgw.accessKeyId;
  process.env[SECRET] = rgw.secretAccessKey;
  process.env[REPLICA_SECRET] = randomBytes(24).toString('hex');
  upstream = await new MemoryRegistry().start();
  dir = await makeTempDir('s3replicas');
  replicas = await Promise.all(
    [0, 1, 2].map(async (i) => {
      const replicaDir = path.join(dir, `replica-${i}`);
      await mkdir(path.join(replicaDir, 'scratch'), { recursive: true });
      // The port is chosen before the config is written, so the advertised address is known.
      const { file, port } = await writeMirrorConfig(replicaDir, {
        storage: {
          path: path.join(replicaDir, 'scratch'),
          s3: { endpoint: rgw.endpoint, bucket: Bucket, prefix, forcePathStyle: true, accessKeyEnv: ACCESS, secretKeyEnv: SECRET },
        },
        metadata: { redis: REDIS_URL },
        defaultUpstream: 'hub',
        upstreams: { hub: { url: upstream.url } },
      });
      const config = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      config.replicas = { secretEnv: REPLICA_SECRET, advertise: `http://127.0.0.1:${port}` };
      await writeFile(file, JSON.stringify(config, null, 2));
      return startMirrorProcess(replicaDir, file, port);
    }),
  );
});
after(async () => {
  await Promise.all(replicas.map((replica) => replica.proc.stop(1_000)));
  await upstream?.stop();
  admin?.destroy();
  await rgw?.stop();
  if (dir) await removeTempDir(dir);
  for (const name of [ACCESS, SECRET, REPLICA_SECRET]) delete process.env[name];
});

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** A GET of the blob: the body and when its first byte arrived. */
async function get(base: string, name: string, digest: string): Promise<{ body: Buffer; firstByteAt: number; doneAt: number }> {
  const response = await fetch(`${base}/v2/${name}/blobs/${digest}`);
  assert.equal(response.status, 200);
  const chunks: Buffer[] = [];
  let firstByteAt = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    firstByteAt ||= Date.now();
    chunks.push(Buffer.from(chunk));
  }
  return { body: Buffer.concat(chunks), firstByteAt, doneAt: Date.now() };
}

/** Only verified objects under the prefix, each hashing to its key, and no multipart upload left. */
async function assertBucketHoldsOnly(digest: string): Promise<void> {
  const page = await admin.send(new ListObjectsV2Command({ Bucket, Prefix: prefix }));
  const keys = (page.Contents ?? []).map((object) => object.Key as string).filter((key) => key.includes(digest.slice(7)) || !key.includes('/blobs/'));
  assert.deepEqual(keys.filter((key) => !key.startsWith(`${prefix}blobs/`)), [], 'no temporary object left');
  const key = `${prefix}blobs/sha256/${digest.slice(7)}`;
  assert.ok(keys.includes(key), 'the blob is kept');
  const out = await admin.send(new GetObjectCommand({ Bucket, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of out.Body as AsyncIterable<Buffer>) hash.update(chunk);
  assert.equal(`sha256:${hash.digest('hex')}`, digest, 'the kept object hashes to its key');
  assert.equal((await admin.send(new ListMultipartUploadsCommand({ Bucket, Prefix: prefix }))).Uploads?.length ?? 0, 0, 'no multipart upload left');
}

test('30 concurrent cold requests over 3 S3 replicas: 1 upstream GET, 30 verified bodies, streamed as they arrive', async () => {
  const name = `team/fleet-${randomBytes(4).toString('hex')}`;
  upstream.addImage(name, 'v1');
  const { digest } = upstream.addRandomBlob(1024 * KiB + 7);
  // ~1.3 s of upstream sending: the requests overlap the fill.
  upstream.trickle = { chunk: 32 * KiB, delayMs: 40 };
  upstream.resetCounts();
  let results;
  try {
    results = await Promise.all(Array.from({ length: 30 }, (_, i) => get((replicas[i % 3] as MirrorProcess).url, name, digest)));
  } finally {
    upstream.trickle = undefined;
  }
  for (const { body } of results) assert.equal(sha256(body), digest, 'every body whole and verified');
  assert.equal(upstream.count({ method: 'GET', kind: 'blob' }), 1, 'one upstream GET for the fleet');
  // Followers on the other replicas stream the fill in flight, not the kept blob after it: every client's
  // first byte arrives well before the first body completes (the fill keeps sending for ~1 s more).
  const firstDone = Math.min(...results.map((r) => r.doneAt));
  const lastFirstByte = Math.max(...results.map((r) => r.firstByteAt));
  assert.ok(lastFirstByte < firstDone - 400, `first bytes by ${lastFirstByte - firstDone} ms relative to the first completed body`);
  await assertBucketHoldsOnly(digest);
});

test('the leader SIGKILLed mid-fill: followers on the other replicas get whole verified bodies, at most 2 upstream GETs, nothing partial', async () => {
  const name = `team/crash-${randomBytes(4).toString('hex')}`;
  upstream.addImage(name, 'v1');
  const { digest, bytes } = upstream.addRandomBlob(1024 * KiB + 13);
  upstream.trickle = { chunk: 16 * KiB, delayMs: 25 };
  upstream.resetCounts();
  const [leader, ...followers] = replicas as [MirrorProcess, MirrorProcess, MirrorProcess];
  try {
    const onLeader = fetch(`${leader.url}/v2/${name}/blobs/${digest}`).then((r) => r.arrayBuffer()).then(
      () => 'completed',
      () => 'failed',
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const onFollowers = followers.flatMap((replica) => [0, 1].map(() => get(replica.url, name, digest)));
    await new Promise((resolve) => setTimeout(resolve, 400));
    process.kill(leader.proc.pid, 'SIGKILL');
    await leader.proc.exited;
    replicas = followers;
    for (const { body } of await Promise.all(onFollowers)) {
      assert.equal(body.length, bytes.length);
      assert.equal(sha256(body), digest, 'no follower sees a corrupt body');
    }
    assert.equal(await onLeader, 'failed', "the killed replica's own client sees a failed transfer");
  } finally {
    upstream.trickle = undefined;
  }
  const gets = upstream.count({ method: 'GET', kind: 'blob' });
  assert.ok(gets >= 1 && gets <= 2, `${gets} upstream GETs`);
  await assertBucketHoldsOnly(digest);
});
