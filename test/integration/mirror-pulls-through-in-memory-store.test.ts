import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import Keyv from 'keyv';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config.ts';
import { parseDigest } from '../../src/reference.ts';
import { MemoryBlobStore } from '../../src/storage/memory-blob-store.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';

// The storage seam (issue 10): an app built with `deps.store` keeps and serves everything through that
// store — here the in-memory one — and never touches storage.path: a pull costs upstream once, the second
// costs it nothing, and the configured directory is never even created.

let upstream: MemoryRegistry;
let app: FastifyInstance;
const store = new MemoryBlobStore();
const storagePath = path.join(os.tmpdir(), `pullthrough-never-created-${randomUUID()}`);

before(async () => {
  upstream = await new MemoryRegistry().start();
  const config = parseConfig({
    listen: '127.0.0.1:0',
    logLevel: 'silent',
    storage: { path: storagePath },
    defaultUpstream: 'hub',
    upstreamTimeouts: { connect: '2s', idle: '5s' },
    upstreams: { hub: { url: upstream.url } },
  });
  app = await buildApp(config, { keyv: new Keyv(), store });
});
after(async () => {
  await app.close();
  await upstream.stop();
});

async function pull(image: { manifest: { bytes: Buffer }; config: string; layer: string }, big: { digest: string; bytes: Buffer }): Promise<void> {
  const manifest = await app.inject({ method: 'GET', url: '/v2/team/app/manifests/1.0' });
  assert.equal(manifest.statusCode, 200);
  assert.deepEqual(manifest.rawPayload, image.manifest.bytes);
  for (const digest of [image.config, image.layer, big.digest]) {
    const blob = await app.inject({ method: 'GET', url: `/v2/team/app/blobs/${digest}` });
    assert.equal(blob.statusCode, 200, digest);
    assert.equal(blob.headers['docker-content-digest'], digest);
    if (digest === big.digest) assert.deepEqual(blob.rawPayload, big.bytes);
  }
}

test('with an in-memory store the second pull costs upstream nothing, and storage.path is never touched', async () => {
  const image = upstream.addImage('team/app', '1.0');
  const big = upstream.addRandomBlob(3 * 1024 * 1024);
  await pull(image, big);
  assert.ok(upstream.count({ kind: 'blob' }) >= 3, 'the first pull went upstream');
  // A fill ends (and is kept) just after its last byte reaches the client.
  await app.mirror.fills.get(parseDigest(big.digest) ?? assert.fail())?.finished;
  for (const digest of [image.digest, image.config, image.layer, big.digest]) {
    assert.ok(await store.stat(parseDigest(digest) ?? assert.fail()), `${digest} kept in the given store`);
  }

  upstream.resetCounts();
  await pull(image, big);
  const ranged = await app.inject({ method: 'GET', url: `/v2/team/app/blobs/${big.digest}`, headers: { range: 'bytes=1048576-' } });
  assert.equal(ranged.statusCode, 206);
  assert.deepEqual(ranged.rawPayload, big.bytes.subarray(1024 * 1024));
  assert.equal(upstream.count(), 0, 'the second pull and the range came from the store');
  assert.equal(existsSync(storagePath), false, 'nothing was written under storage.path');
});
