import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 13, item 5, across replicas: a typo one mirror asked the upstream about is answered by another
// mirror on the same Redis from the remembered 404, with no upstream request.

const REDIS_URL = process.env.PULLTHROUGH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
let upstream: MemoryRegistry;
const mirrors: TestMirror[] = [];

before(async () => {
  upstream = await new MemoryRegistry().start();
  for (let i = 0; i < 2; i++) mirrors.push(await startMirror({ hub: { url: upstream.url, negativeTtl: '10s' } }, { keyv: 'configured', redis: REDIS_URL }));
});
after(async () => {
  for (const mirror of mirrors) await mirror.close();
  await upstream.stop();
});

test('a typo asked 50 times in 10 s through two mirrors sharing Redis costs 1 upstream request', async () => {
  const repository = `typo/app-${randomBytes(4).toString('hex')}`;
  upstream.addImage(repository, 'v1');
  upstream.resetCounts();
  const started = Date.now();
  for (let i = 0; i < 50; i++) {
    const response = await (mirrors[i % 2] as TestMirror).app.inject({ url: `/v2/${repository}/manifests/v1-typo` });
    assert.equal(response.statusCode, 404);
  }
  assert.ok(Date.now() - started < 10_000);
  assert.equal(upstream.count({ kind: 'manifest' }), 1);
});
