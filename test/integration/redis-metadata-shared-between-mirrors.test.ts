import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// With metadata.redis set, tag answers live in Redis: a second mirror sharing the store directory and
// the Redis answers a tag the first one fetched without asking upstream — it could not know it otherwise.

const REDIS_URL = process.env.PULLTHROUGH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
let upstream: MemoryRegistry;
let storage: string;
const mirrors: TestMirror[] = [];

before(async () => {
  upstream = await new MemoryRegistry().start();
  storage = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-shared-'));
});
after(async () => {
  for (const mirror of mirrors) await mirror.close({ keepStorage: true });
  await rm(storage, { recursive: true, force: true });
  await upstream.stop();
});

test('a tag fetched by one mirror is served by another from Redis with 0 upstream requests', async () => {
  const repository = `shared/app-${randomBytes(4).toString('hex')}`;
  const image = upstream.addImage(repository, 'v1');
  const options = { keyv: 'configured' as const, redis: REDIS_URL, storage };
  const first = await startMirror({ hub: { url: upstream.url, tagTtl: '1h' } }, options);
  mirrors.push(first);
  assert.equal((await fetch(`${first.url}/v2/${repository}/manifests/v1`)).status, 200);

  const second = await startMirror({ hub: { url: upstream.url, tagTtl: '1h' } }, options);
  mirrors.push(second);
  upstream.resetCounts();
  const answer = await fetch(`${second.url}/v2/${repository}/manifests/v1`);
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get('docker-content-digest'), image.digest);
  assert.equal(upstream.requests.length, 0);
});

test('with Redis unreachable, pulls still work (through upstream) and nothing hangs', async () => {
  const image = upstream.addImage('noredis/app', 'v1');
  const mirror = await startMirror({ hub: { url: upstream.url } }, { keyv: 'configured', redis: 'redis://127.0.0.1:1' });
  mirrors.push(mirror);
  const started = Date.now();
  const answer = await fetch(`${mirror.url}/v2/noredis/app/manifests/v1`);
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get('docker-content-digest'), image.digest);
  const blob = await fetch(`${mirror.url}/v2/noredis/app/blobs/${image.layer}`);
  assert.equal(blob.status, 200);
  await blob.arrayBuffer();
  assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
});
