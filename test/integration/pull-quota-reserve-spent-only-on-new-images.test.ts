import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { scrape, sumOf } from '../support/prometheus-text.ts';

// Issue 15, acceptance: with a reserve of 3 and 20 tags whose digests changed upstream, the mirror spends
// at most remaining - reserve GETs on changed tags and serves the old digests for the rest, spends the
// reserve only on images nobody has yet (then answers 429 with Retry-After, asking nothing upstream), and
// after the window's reset picks up each held tag with one GET.

const WINDOW_MS = 4000;
const TAGS = 20;
let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  // 30 pulls in the first window: 20 to warm the cache, 10 left; every later window has 40.
  upstream = await new MemoryRegistry({ rateLimit: { limit: 40, remaining: 30, windowMs: WINDOW_MS } }).start();
  mirror = await startMirror({ hub: { url: upstream.url, tagTtl: '0s', quota: { reserve: 3 } } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

async function digestOf(path: string): Promise<{ status: number; digest: string | undefined; retryAfter: string | undefined }> {
  const response = await mirror.app.inject({ url: path });
  return { status: response.statusCode, digest: response.headers['docker-content-digest'] as string | undefined, retryAfter: response.headers['retry-after'] as string | undefined };
}

const manifestGets = (): number => upstream.count({ method: 'GET', kind: 'manifest' });

test('at the reserve changed tags keep their cached digest, new images get the reserve, after the reset one GET each', async () => {
  const old: string[] = [];
  for (let i = 0; i < TAGS; i++) {
    old.push(upstream.addImage('app/changing', `t${i}`).digest);
    assert.equal((await digestOf(`/v2/app/changing/manifests/t${i}`)).digest, old[i]);
  }
  assert.equal(upstream.pullsLeft(), 10);
  const changed = Array.from({ length: TAGS }, (_, i) => upstream.addImage('app/changing', `t${i}`).digest);

  upstream.resetCounts();
  const served: string[] = [];
  for (let i = 0; i < TAGS; i++) {
    const answer = await digestOf(`/v2/app/changing/manifests/t${i}`);
    assert.equal(answer.status, 200);
    served.push(answer.digest as string);
  }
  // remaining 10 - reserve 3 = 7 GETs on changed tags; every tag was still revalidated (HEAD is free).
  assert.equal(manifestGets(), 7);
  assert.equal(upstream.count({ method: 'HEAD', kind: 'manifest' }), TAGS);
  const fresh = served.filter((digest, i) => digest === changed[i]).length;
  const stale = served.filter((digest, i) => digest === old[i]).length;
  assert.deepEqual({ fresh, stale }, { fresh: 7, stale: 13 });

  // The reserve goes to images nobody has yet: three of them; the fourth is refused without asking.
  for (let i = 0; i < 3; i++) {
    const image = upstream.addImage(`app/new${i}`, 'v1');
    assert.equal((await digestOf(`/v2/app/new${i}/manifests/v1`)).digest, image.digest);
  }
  assert.equal(manifestGets(), 10);
  assert.equal(upstream.pullsLeft(), 0);
  upstream.addImage('app/new3', 'v1');
  const before = upstream.requests.length;
  const refused = await digestOf('/v2/app/new3/manifests/v1');
  assert.equal(refused.status, 429);
  const retryAfter = Number(refused.retryAfter);
  assert.ok(retryAfter >= 1 && retryAfter <= WINDOW_MS / 1000 + 1, `Retry-After ${refused.retryAfter} comes from the window`);
  assert.equal(upstream.requests.length, before, 'nothing asked upstream at zero');

  const metrics = await scrape(mirror.url);
  assert.equal(sumOf(metrics, 'pullthrough_quota_held_total', { upstream: 'hub', outcome: 'served_stale' }), 13);
  assert.equal(sumOf(metrics, 'pullthrough_quota_held_total', { upstream: 'hub', outcome: 'refused' }), 1);
  assert.equal(sumOf(metrics, 'pullthrough_upstream_quota_state', { upstream: 'hub', state: 'exhausted' }), 1);

  // After the estimated reset: each held tag is picked up with one GET, the others only revalidated.
  const hub = mirror.config.upstreams.hub;
  assert.ok(hub);
  const status = await mirror.app.mirror.quota.status(hub);
  assert.ok(status);
  await sleep(Math.max(0, status.resetAt - Date.now()) + 50);
  upstream.resetCounts();
  for (let i = 0; i < TAGS; i++) assert.equal((await digestOf(`/v2/app/changing/manifests/t${i}`)).digest, changed[i]);
  assert.equal(manifestGets(), 13);
  assert.equal((await digestOf('/v2/app/new3/manifests/v1')).status, 200);
});
