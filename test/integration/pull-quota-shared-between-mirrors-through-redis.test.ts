import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { scrape, sumOf } from '../support/prometheus-text.ts';

// Issue 15, one view: replica B knows the pull quota replica A observed, with no request of its own, and
// spends accordingly (A took the last pull, so B answers a new image 429 without asking upstream).

const REDIS_URL = process.env.PULLTHROUGH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
// The quota record is keyed by upstream name: a unique one keeps parallel runs on one Redis apart.
const NAME = `q${randomBytes(4).toString('hex')}`;
let upstream: MemoryRegistry;
let a: TestMirror;
let b: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry({ rateLimit: { limit: 100, remaining: 1, windowMs: 60_000 } }).start();
  a = await startMirror({ [NAME]: { url: upstream.url } }, { keyv: 'configured', redis: REDIS_URL });
  b = await startMirror({ [NAME]: { url: upstream.url } }, { keyv: 'configured', redis: REDIS_URL });
});
after(async () => {
  await a?.close();
  await b?.close();
  await upstream.stop();
});

test('B shows and obeys the quota A observed, with no upstream request of its own', async () => {
  upstream.addImage('app/one', 'v1');
  upstream.addImage('app/two', 'v1');
  const config = b.config.upstreams[NAME];
  assert.ok(config);
  assert.equal(await b.app.mirror.quota.status(config), undefined, 'B knows nothing before A asks');

  assert.equal((await a.app.inject({ url: '/v2/app/one/manifests/v1' })).statusCode, 200);
  assert.equal(upstream.pullsLeft(), 0);
  upstream.resetCounts();

  // A shares what it saw in the background: give it a moment.
  let seen = await b.app.mirror.quota.status(config);
  for (let i = 0; i < 20 && seen?.remaining !== 0; i++) {
    await sleep(50);
    seen = await b.app.mirror.quota.status(config);
  }
  assert.equal(seen?.remaining, 0);
  assert.equal(seen?.limit, 100);
  assert.equal(seen?.windowSeconds, 60);
  assert.equal(seen?.state, 'exhausted');
  const metrics = await scrape(b.url);
  assert.equal(sumOf(metrics, 'pullthrough_upstream_ratelimit_remaining', { upstream: NAME, credential: 'anonymous' }), 0);
  assert.equal(sumOf(metrics, 'pullthrough_upstream_ratelimit_limit', { upstream: NAME }), 100);
  const page = await (await fetch(`${b.url}/`)).text();
  assert.match(page, new RegExp(`data-upstream="${NAME}"><h2>${NAME} quota left</h2><div class="big" data-metric="quota-remaining" data-value="0">0 / 100`));
  assert.match(page, /data-quota-state="exhausted"/);

  const refused = await b.app.inject({ url: '/v2/app/two/manifests/v1' });
  assert.equal(refused.statusCode, 429);
  assert.ok(Number(refused.headers['retry-after']) > 50, 'Retry-After until the 60 s window A saw begin ends');
  assert.equal(upstream.requests.length, 0, 'B asked nothing upstream');
});
