import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { scrape, sumOf } from '../support/prometheus-text.ts';

let upstream: MemoryRegistry;
let mirror: TestMirror;
let other: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry({ tokenAuth: true, rateLimit: { limit: 100, remaining: 87 } }).start();
  const upstreams = { dockerhub: { url: upstream.url, aliases: ['docker.io'], defaultNamespace: 'library', tagTtl: '1h' } };
  mirror = await startMirror(upstreams);
  other = await startMirror(upstreams);
});
after(async () => {
  await mirror.close();
  await other.close();
  await upstream.stop();
});

test('/metrics counts client requests by outcome, upstream requests by kind, bytes and quota', async () => {
  const image = upstream.addImage('library/alpine', '3.20', 5000);
  upstream.resetCounts();
  for (let i = 0; i < 3; i++) {
    assert.equal((await fetch(`${mirror.url}/v2/alpine/manifests/3.20`)).status, 200);
    const blob = await fetch(`${mirror.url}/v2/alpine/blobs/${image.layer}`);
    assert.equal(Buffer.from(await blob.arrayBuffer()).length, 5000);
  }
  assert.equal((await fetch(`${mirror.url}/v2/alpine/manifests/3.20`, { method: 'HEAD' })).status, 200);
  await mirror.app.mirror.cacheSize.refresh();

  const m = await scrape(mirror.url);
  const requests = 'pullthrough_requests_total';
  assert.equal(sumOf(m, requests, { kind: 'manifest', method: 'GET', cache: 'miss' }), 1);
  assert.equal(sumOf(m, requests, { kind: 'manifest', method: 'GET', cache: 'hit' }), 2);
  assert.equal(sumOf(m, requests, { kind: 'manifest', method: 'HEAD', cache: 'hit' }), 1);
  assert.equal(sumOf(m, requests, { kind: 'blob', cache: 'miss', status_class: '2xx' }), 1);
  assert.equal(sumOf(m, requests, { kind: 'blob', cache: 'hit' }), 2);
  const manifestBytes = image.manifest.bytes.length;
  assert.equal(sumOf(m, 'pullthrough_served_bytes_total', { source: 'cache' }), 2 * (manifestBytes + 5000));
  assert.equal(sumOf(m, 'pullthrough_served_bytes_total', { source: 'upstream' }), manifestBytes + 5000);

  // The counting registry is the truth for what went upstream; the mirror's counters must agree with it.
  const upstreamManifestGets = upstream.count({ method: 'GET', kind: 'manifest' });
  assert.equal(sumOf(m, 'pullthrough_upstream_requests_total', { kind: 'manifest', method: 'GET' }), upstreamManifestGets);
  assert.equal(sumOf(m, 'pullthrough_upstream_requests_total', { kind: 'manifest', method: 'GET', status_class: '2xx' }), 1, 'one Docker Hub pull');
  assert.equal(sumOf(m, 'pullthrough_upstream_requests_total', { kind: 'token' }), upstream.count({ kind: 'token' }));
  assert.equal(sumOf(m, 'pullthrough_upstream_requests_total', { kind: 'blob' }), upstream.count({ kind: 'blob' }));
  assert.equal(sumOf(m, 'pullthrough_upstream_fetched_bytes_total', { upstream: 'dockerhub' }), manifestBytes + 5000);

  assert.equal(sumOf(m, 'pullthrough_upstream_ratelimit_remaining', { upstream: 'dockerhub' }), 87);
  assert.equal(sumOf(m, 'pullthrough_upstream_ratelimit_limit', { upstream: 'dockerhub' }), 100);
  assert.equal(sumOf(m, 'pullthrough_upstream_up', { upstream: 'dockerhub' }), 1);
  assert.equal(sumOf(m, 'pullthrough_cache_blobs'), 2, 'the manifest and the layer (the config was never asked for)');
  assert.ok(sumOf(m, 'pullthrough_cache_bytes') >= manifestBytes + 5000);
  assert.equal(m.some((s) => s.name === 'pullthrough_cache_max_bytes'), false, 'no cap configured: no cap gauge');
  assert.equal(sumOf(m, 'pullthrough_fills_in_flight'), 0);
  assert.equal(sumOf(m, 'pullthrough_image_pulls', { image: 'dockerhub/library/alpine' }), 4, '3 GETs and 1 HEAD by tag');
});

test('each app has its own registry: another mirror in the same process counts nothing of this one', async () => {
  const m = await scrape(other.url);
  assert.equal(sumOf(m, 'pullthrough_requests_total'), 0);
  assert.equal(sumOf(m, 'pullthrough_upstream_requests_total'), 0);
});
