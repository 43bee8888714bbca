import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RateLimitView } from '../../src/upstream/rate-limit.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// The registry reads this object on every response, so the test can move the quota between requests.
const quota = { limit: 100, remaining: 76 };

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry({ tokenAuth: true, redirectBlobs: true, rateLimit: quota }).start();
  mirror = await startMirror({ hub: { url: upstream.url, defaultNamespace: 'library' } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

test('the last ratelimit-limit / ratelimit-remaining seen upstream is exposed per upstream client', async () => {
  const client = mirror.app.mirror.clients.get('hub');
  assert.ok(client, 'a client per configured upstream');
  // Read through a function: the getter's value changes between requests.
  const seen = (): RateLimitView | undefined => client.rateLimit;
  assert.equal(seen(), undefined, 'nothing known before the first upstream response');

  const image = upstream.addImage('library/counted', 'v1');
  const response = await fetch(`${mirror.url}/v2/counted/manifests/v1`);
  assert.equal(response.status, 200);
  await response.arrayBuffer();
  assert.equal(upstream.count({ method: 'GET', kind: 'manifest' }), 2);
  assert.deepEqual(
    { limit: seen()?.limit, remaining: seen()?.remaining, windowSeconds: seen()?.windowSeconds },
    { limit: 100, remaining: 76, windowSeconds: 21600 },
  );
  assert.equal(typeof seen()?.seenAt, 'number');

  quota.remaining = 75;
  // The blob is redirected to a CDN that sends no rate-limit headers: the registry's answer still counts.
  const blob = await fetch(`${mirror.url}/v2/counted/blobs/${image.layer}`);
  assert.equal(blob.status, 200);
  await blob.arrayBuffer();
  assert.equal(upstream.count({ kind: 'cdn' }), 1);
  assert.equal(seen()?.remaining, 75, 'updated from the latest response');
  assert.equal(seen()?.limit, 100);
});
