import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { type MirrorProcess, startMirrorProcess, writeMirrorConfig } from './support/mirror-process.ts';

// Three replica processes sharing one Redis and one store directory behave as one mirror: the fleet
// costs upstream one fetch per blob and per new manifest, and a replica killed mid-fill is replaced by
// another that completes the download for the clients that were following it.

const REDIS_URL = process.env.PULLTHROUGH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
let upstream: MemoryRegistry;
let dir: string;
let replicas: MirrorProcess[] = [];

before(async () => {
  upstream = await new MemoryRegistry({ tokenAuth: true }).start();
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-replicas-'));
  replicas = await Promise.all(
    [0, 1, 2].map(async (i) => {
      const replicaDir = path.join(dir, `replica-${i}`);
      await mkdir(replicaDir);
      const { file, port } = await writeMirrorConfig(replicaDir, {
        storage: { path: path.join(dir, 'store') },
        metadata: { redis: REDIS_URL },
        defaultUpstream: 'hub',
        upstreams: { hub: { url: upstream.url, defaultNamespace: 'library', tagTtl: '1h' } },
      });
      return startMirrorProcess(replicaDir, file, port);
    }),
  );
});
after(async () => {
  await Promise.all(replicas.map((replica) => replica.proc.stop(1_000)));
  await rm(dir, { recursive: true, force: true });
  await upstream.stop();
});

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const MANIFEST_ACCEPT = 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json';

/** A docker-like pull: HEAD the tag, GET the manifest by digest, then every blob; returns the blobs' digests as received. */
async function pull(base: string, name: string, tag: string): Promise<string[]> {
  const head = await fetch(`${base}/v2/${name}/manifests/${tag}`, { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT } });
  assert.equal(head.status, 200);
  const digest = head.headers.get('docker-content-digest') as string;
  const manifest = Buffer.from(await (await fetch(`${base}/v2/${name}/manifests/${digest}`, { headers: { accept: MANIFEST_ACCEPT } })).arrayBuffer());
  assert.equal(sha256(manifest), digest);
  const parsed = JSON.parse(manifest.toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
  return Promise.all(
    [parsed.config, ...parsed.layers].map(async ({ digest: blob }) => sha256(Buffer.from(await (await fetch(`${base}/v2/${name}/blobs/${blob}`)).arrayBuffer()))),
  );
}

test('30 concurrent cold pulls spread over 3 replicas: 1 upstream GET per blob and per new manifest', async () => {
  const name = `fleet-${randomBytes(4).toString('hex')}`;
  const image = upstream.addImage(`library/${name}`, 'v1', 6 * 1024 * 1024);
  // Slow enough that the pulls overlap the downloads, as a fleet rolling out at once does.
  upstream.trickle = { chunk: 256 * 1024, delayMs: 20 };
  upstream.resetCounts();
  try {
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => pull((replicas[i % 3] as MirrorProcess).url, name, 'v1')));
    for (const received of results) assert.deepEqual(received, [image.config, image.layer], 'every body whole and correct');
  } finally {
    upstream.trickle = undefined;
  }
  // Authenticated requests only: the token dance's first, challenged attempts fetch nothing.
  const manifestGets = upstream.requests.filter((r) => r.method === 'GET' && r.kind === 'manifest' && r.authorization);
  assert.equal(manifestGets.length, 1, 'one manifest GET for the fleet');
  assert.equal(upstream.count({ method: 'HEAD', kind: 'manifest' }), 0);
  const blobGets = upstream.requests.filter((r) => r.method === 'GET' && r.kind === 'blob' && r.authorization);
  assert.deepEqual(blobGets.map((r) => r.path).sort(), [`/v2/library/${name}/blobs/${image.config}`, `/v2/library/${name}/blobs/${image.layer}`].sort());
});

test('a replica killed mid-fill: another takes over, its followers get the whole body, nothing partial is kept', async () => {
  const name = `crash-${randomBytes(4).toString('hex')}`;
  upstream.addImage(`library/${name}`, 'v1');
  const { digest, bytes } = upstream.addRandomBlob(8 * 1024 * 1024);
  upstream.trickle = { chunk: 128 * 1024, delayMs: 25 };
  upstream.resetCounts();
  const [leader, ...followers] = replicas as [MirrorProcess, MirrorProcess, MirrorProcess];
  try {
    const onLeader = fetch(`${leader.url}/v2/${name}/blobs/${digest}`).then((r) => r.arrayBuffer()).then(
      () => 'completed',
      () => 'failed',
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const onFollowers = followers.map((replica) => fetch(`${replica.url}/v2/${name}/blobs/${digest}`).then(async (r) => Buffer.from(await r.arrayBuffer())));
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(leader.proc.pid, 'SIGKILL');
    await leader.proc.exited;
    for (const body of await Promise.all(onFollowers)) {
      assert.equal(body.length, bytes.length);
      assert.equal(sha256(body), digest, 'no follower sees a corrupt body');
    }
    assert.equal(await onLeader, 'failed', "the killed replica's own client sees a failed transfer");
  } finally {
    upstream.trickle = undefined;
  }
  const gets = upstream.requests.filter((r) => r.method === 'GET' && r.kind === 'blob' && r.authorization);
  assert.equal(gets.length, 2, 'the first download and the one takeover');
  const kept = await readFile(path.join(dir, 'store', 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7)));
  assert.equal(sha256(kept), digest, 'kept once, whole and verified');
  assert.deepEqual(await readdir(path.join(dir, 'store', 'tmp')), [], 'the dead replica left no partial file behind');
});
