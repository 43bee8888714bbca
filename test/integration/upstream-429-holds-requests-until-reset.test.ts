import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 15, at zero: someone else behind the same address spent the quota, so the mirror's GET meets a 429.
// From then until the window's estimated reset: cached content is served, the rest answered 429 with a
// Retry-After derived from the window, and nothing at all is sent upstream; then it resumes on time.

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry({ rateLimit: { limit: 5, remaining: 3, windowMs: 2000 } }).start();
  mirror = await startMirror({ hub: { url: upstream.url, tagTtl: '0s' } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

test('after an upstream 429: cached served, uncached 429 with Retry-After, no upstream request until the reset', async () => {
  const cached = upstream.addImage('app/cached', 'v1');
  upstream.addImage('app/new', 'v1');
  assert.equal((await mirror.app.inject({ url: '/v2/app/cached/manifests/v1' })).statusCode, 200);
  // Another client behind the same address spends the rest.
  for (let i = 0; i < 2; i++) await (await fetch(`${upstream.url}/v2/app/cached/manifests/v1`)).arrayBuffer();
  assert.equal(upstream.pullsLeft(), 0);

  const first = await mirror.app.inject({ url: '/v2/app/new/manifests/v1' });
  assert.equal(first.statusCode, 429);
  assert.equal(JSON.parse(first.body).errors[0].code, 'TOOMANYREQUESTS');
  const retryAfter = Number(first.headers['retry-after']);
  assert.ok(retryAfter >= 1 && retryAfter <= 3, `Retry-After ${first.headers['retry-after']} from the 2 s window`);

  upstream.resetCounts();
  const stale = await mirror.app.inject({ url: '/v2/app/cached/manifests/v1' });
  assert.equal(stale.statusCode, 200);
  assert.equal(stale.headers['docker-content-digest'], cached.digest);
  const blob = await mirror.app.inject({ url: `/v2/app/cached/blobs/${cached.layer}` });
  assert.equal(blob.statusCode, 429, 'an uncached blob waits too');
  const again = await mirror.app.inject({ url: '/v2/app/new/manifests/v1' });
  assert.equal(again.statusCode, 429);
  assert.ok(Number(again.headers['retry-after']) >= 1);
  assert.equal(upstream.requests.length, 0, 'not even a HEAD goes upstream while held');

  await sleep(retryAfter * 1000 + 100);
  const resumed = await mirror.app.inject({ url: '/v2/app/new/manifests/v1' });
  assert.equal(resumed.statusCode, 200, 'resumes on time');
  assert.equal(upstream.count({ method: 'GET', kind: 'manifest' }), 1);
});
