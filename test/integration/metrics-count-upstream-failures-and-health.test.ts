import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { scrape, sumOf } from '../support/prometheus-text.ts';

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry().start();
  mirror = await startMirror({ hub: { url: upstream.url, tagTtl: '1ms' } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

test('5xx and unreachable upstreams count as errors, mark the upstream down, and stale answers are counted', async () => {
  upstream.addImage('team/app', 'v1');
  assert.equal((await fetch(`${mirror.url}/v2/team/app/manifests/v1`)).status, 200);
  let m = await scrape(mirror.url);
  assert.equal(sumOf(m, 'pullthrough_upstream_up', { upstream: 'hub' }), 1);

  upstream.failWith = { status: 503 };
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal((await fetch(`${mirror.url}/v2/team/app/manifests/v1`)).status, 200, 'served stale');
  m = await scrape(mirror.url);
  assert.equal(sumOf(m, 'pullthrough_upstream_errors_total', { upstream: 'hub', reason: 'server_error' }), 1);
  assert.equal(sumOf(m, 'pullthrough_requests_total', { kind: 'manifest', cache: 'stale' }), 1);
  assert.equal(sumOf(m, 'pullthrough_upstream_up', { upstream: 'hub' }), 0);

  await upstream.stop();
  assert.equal((await fetch(`${mirror.url}/v2/team/app/manifests/v1`)).status, 200, 'served stale');
  m = await scrape(mirror.url);
  assert.equal(sumOf(m, 'pullthrough_upstream_errors_total', { upstream: 'hub', reason: 'unreachable' }), 1);
  assert.equal(sumOf(m, 'pullthrough_requests_total', { kind: 'manifest', cache: 'stale' }), 2);

  const page = await (await fetch(`${mirror.url}/`)).text();
  assert.match(page, /data-upstream="hub" data-state="down"/);
  assert.match(page, /last error [^<]*unreachable: ECONNREFUSED/);
});
