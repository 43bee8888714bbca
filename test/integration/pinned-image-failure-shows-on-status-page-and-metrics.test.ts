import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { scrape, sumOf } from '../support/prometheus-text.ts';
import { waitForWarmSet } from '../support/warm-set-wait.ts';

// Issue 13: a listed image that cannot be fetched (missing upstream, denied by a rule) shows as failed
// on the status page and in /metrics, with its error, and does not stop the images listed after it.
// The page also counts requests the allow/deny rules refused.

let upstream: MemoryRegistry;
let mirror: TestMirror;
let good: ReturnType<MemoryRegistry['addImage']>;

before(async () => {
  upstream = await new MemoryRegistry().start();
  good = upstream.addImage('library/good', '1.0');
  mirror = await startMirror(
    { hub: { url: upstream.url, defaultNamespace: 'library', deny: ['library/evil'] } },
    { extra: { prefetch: ['missing:1.0', 'evil:latest', 'good:1.0'] } },
  );
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

test('a failing entry shows on the status page and in /metrics and does not stop the others', async () => {
  const entries = await waitForWarmSet(mirror.app, (all) => all.every((e) => e.state === 'warm' || e.state === 'failed'));
  assert.deepEqual(entries.map((e) => e.state), ['failed', 'failed', 'warm']);
  assert.equal(entries[2]?.digest, good.digest);
  assert.match(entries[0]?.lastError?.message ?? '', /manifest unknown|not known/i);
  assert.match(entries[1]?.lastError?.message ?? '', /not served by this mirror/);
  assert.equal(upstream.requests.filter((r) => r.path.includes('/evil/')).length, 0, 'a denied entry costs no upstream request');

  // Two denied client requests.
  for (let i = 0; i < 2; i++) assert.equal((await fetch(`${mirror.url}/v2/library/evil/manifests/latest`)).status, 403);

  const samples = await scrape(mirror.url);
  assert.equal(sumOf(samples, 'pullthrough_pinned_images', { state: 'failed' }), 2);
  assert.equal(sumOf(samples, 'pullthrough_pinned_images', { state: 'warm' }), 1);
  assert.equal(sumOf(samples, 'pullthrough_pinned_refresh_failures_total', { image: 'missing:1.0' }), 1);
  assert.equal(sumOf(samples, 'pullthrough_pinned_refresh_failures_total', { image: 'evil:latest' }), 1);
  assert.equal(sumOf(samples, 'pullthrough_denied_requests_total', { upstream: 'hub' }), 2);

  const page = await (await fetch(`${mirror.url}/`)).text();
  assert.match(page, /<h2>Pinned images<\/h2>/);
  const row = (image: string): string => new RegExp(`<tr data-image="${image}" data-state="(\\w+)">([\\s\\S]*?)</tr>`).exec(page)?.[0] ?? '';
  assert.match(row('missing:1.0'), /data-state="failed"/);
  assert.match(row('missing:1.0'), /data-error>[^<]*manifest unknown/i);
  assert.match(row('evil:latest'), /not served by this mirror/);
  assert.match(row('good:1.0'), /data-state="warm"/);
  assert.match(row('good:1.0'), new RegExp(good.digest.slice(0, 19)));
  assert.match(page, /data-metric="denied-requests" data-value="2"/);
});
