import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// With Redis, replicas share upstream tokens: a token one replica obtained for a repository serves the
// others until it expires, so a fleet costs the token service one request per scope.

const REDIS_URL = process.env.PULLTHROUGH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
let upstream: MemoryRegistry;
const mirrors: TestMirror[] = [];

before(async () => {
  upstream = await new MemoryRegistry({ tokenAuth: true }).start();
});
after(async () => {
  for (const mirror of mirrors) await mirror.close();
  await upstream.stop();
});

test('a second replica pulls with the token the first one got: 0 token requests', async () => {
  // A fresh upstream name per run keeps the shared Redis free of earlier runs' tokens.
  const name = `hub${randomBytes(3).toString('hex')}`;
  const image = upstream.addImage('team/app', 'v1');
  for (let i = 0; i < 2; i++) {
    mirrors.push(await startMirror({ [name]: { url: upstream.url } }, { keyv: 'configured', redis: REDIS_URL }));
  }
  const [first, second] = mirrors as [TestMirror, TestMirror];
  assert.equal((await fetch(`${first.url}/v2/team/app/manifests/v1`)).status, 200);
  assert.equal(upstream.count({ kind: 'token' }), 1);

  upstream.resetCounts();
  const blob = await fetch(`${second.url}/v2/team/app/blobs/${image.layer}`);
  assert.equal(blob.status, 200);
  await blob.arrayBuffer();
  assert.equal(upstream.count({ kind: 'token' }), 0, 'the token came from Redis');
  assert.equal(upstream.requests.filter((r) => r.kind === 'blob' && !r.authorization).length, 1, 'one challenge to learn the scheme');
  assert.equal(upstream.requests.filter((r) => r.kind === 'blob' && r.authorization).length, 1);
});

test('a shared token the upstream no longer accepts (rotated key) is replaced, not taken for a missing repository', async () => {
  const name = `hub${randomBytes(3).toString('hex')}`;
  const image = upstream.addImage('team/rotated', 'v1');
  const first = await startMirror({ [name]: { url: upstream.url } }, { keyv: 'configured', redis: REDIS_URL });
  mirrors.push(first);
  assert.equal((await fetch(`${first.url}/v2/team/rotated/manifests/v1`)).status, 200);

  upstream.revokeTokens();
  const second = await startMirror({ [name]: { url: upstream.url } }, { keyv: 'configured', redis: REDIS_URL });
  mirrors.push(second);
  upstream.resetCounts();
  const blob = await fetch(`${second.url}/v2/team/rotated/blobs/${image.layer}`);
  assert.equal(blob.status, 200, 'the refused shared token was replaced by a fresh one');
  await blob.arrayBuffer();
  assert.equal(upstream.count({ kind: 'token' }), 1);
});
