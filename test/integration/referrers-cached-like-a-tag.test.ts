import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { addReferrerArtifact, COSIGN_SIGNATURE, OCI_INDEX, type ReferrersIndex, SPDX_SBOM } from '../support/referrer-artifacts.ts';

// Issue 13 item 3: the referrers API is cached like a tag, per (upstream, repository, subject,
// artifactType filter): trusted for the upstream's tagTtl, then revalidated (If-None-Match when the
// upstream sent an ETag, else a GET), one upstream request for many concurrent clients.

let steady: MemoryRegistry;
let quick: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  steady = await new MemoryRegistry({ tokenAuth: true }).start();
  quick = await new MemoryRegistry({ referrersApi: { etag: true } }).start();
  mirror = await startMirror({
    hub: { url: steady.url, aliases: ['docker.io'], defaultNamespace: 'library', tagTtl: '1h' },
    quick: { url: quick.url, tagTtl: '1s' },
  });
});
after(async () => {
  await mirror.close();
  await steady.stop();
  await quick.stop();
});

async function referrers(path: string): Promise<{ response: Response; index: ReferrersIndex }> {
  const response = await fetch(`${mirror.url}${path}`);
  assert.equal(response.status, 200, path);
  return { response, index: (await response.json()) as ReferrersIndex };
}

async function outcomes(cache: string): Promise<number> {
  // Counted in an onResponse hook, which may run just after the client has its answer.
  await new Promise((resolve) => setTimeout(resolve, 20));
  const metric = await mirror.app.mirror.metrics.requests.get();
  return metric.values.filter((v) => v.labels.kind === 'referrers' && v.labels.cache === cache).reduce((sum, v) => sum + v.value, 0);
}

test('within the freshness window a second referrers request costs no upstream request', async () => {
  const image = steady.addImage('library/signed', 'v1');
  const signature = addReferrerArtifact(steady, 'library/signed', { digest: image.digest, size: image.manifest.bytes.length }, COSIGN_SIGNATURE);
  steady.resetCounts();
  const first = await referrers(`/v2/library/signed/referrers/${image.digest}`);
  assert.equal(first.response.headers.get('content-type'), OCI_INDEX);
  assert.deepEqual(first.index.manifests.map((m) => m.digest), [signature.digest]);
  assert.equal(steady.count({ kind: 'referrers' }), 1);

  steady.resetCounts();
  // The same listing through another routing (mirror prefix, ?ns=) is the same cache entry.
  for (const path of [`/v2/library/signed/referrers/${image.digest}`, `/hub/v2/signed/referrers/${image.digest}`, `/v2/library/signed/referrers/${image.digest}?ns=docker.io`]) {
    const again = await referrers(path);
    assert.equal(again.response.headers.get('content-type'), OCI_INDEX);
    assert.deepEqual(again.index, first.index);
  }
  const head = await fetch(`${mirror.url}/v2/library/signed/referrers/${image.digest}`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-type'), OCI_INDEX);
  assert.equal(steady.requests.length, 0, `upstream requests: ${JSON.stringify(steady.requests)}`);
});

test('concurrent requests for one uncached referrers listing share one upstream request', async () => {
  const image = steady.addImage('library/crowd', 'v1');
  addReferrerArtifact(steady, 'library/crowd', { digest: image.digest, size: image.manifest.bytes.length }, SPDX_SBOM);
  steady.resetCounts();
  const answers = await Promise.all(Array.from({ length: 12 }, () => referrers(`/v2/library/crowd/referrers/${image.digest}`)));
  for (const { index } of answers) assert.equal(index.manifests.length, 1);
  assert.equal(steady.count({ kind: 'referrers' }), 1);
});

test('after the window: revalidated with If-None-Match (304 keeps the answer), and a changed listing is seen', async () => {
  const image = quick.addImage('team/app', 'v1');
  const subject = { digest: image.digest, size: image.manifest.bytes.length };
  const first = addReferrerArtifact(quick, 'team/app', subject, COSIGN_SIGNATURE);
  const path = `/quick/v2/team/app/referrers/${image.digest}`;
  quick.resetCounts();
  assert.deepEqual((await referrers(path)).index.manifests.map((m) => m.digest), [first.digest]);
  assert.deepEqual((await referrers(path)).index.manifests.map((m) => m.digest), [first.digest]);
  assert.equal(quick.count({ kind: 'referrers' }), 1, 'second request within the window');

  const revalidatedBefore = await outcomes('revalidated');
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.deepEqual((await referrers(path)).index.manifests.map((m) => m.digest), [first.digest]);
  assert.equal(quick.count({ kind: 'referrers' }), 2, 'asked again after the window');
  assert.equal(await outcomes('revalidated'), revalidatedBefore + 1, 'the 304 counted as a revalidation');

  const second = addReferrerArtifact(quick, 'team/app', subject, SPDX_SBOM);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.deepEqual((await referrers(path)).index.manifests.map((m) => m.digest), [first.digest, second.digest]);
  assert.equal(quick.count({ kind: 'referrers' }), 3);
});

test('after the window, an upstream without ETag is asked with a plain GET and the new listing served', async () => {
  const image = steady.addImage('library/plain', 'v1');
  const subject = { digest: image.digest, size: image.manifest.bytes.length };
  addReferrerArtifact(steady, 'library/plain', subject, COSIGN_SIGNATURE);
  const short = await startMirror({ hub: { url: steady.url, tagTtl: '600ms' } });
  try {
    const path = `${short.url}/v2/library/plain/referrers/${image.digest}`;
    assert.equal(((await (await fetch(path)).json()) as ReferrersIndex).manifests.length, 1);
    addReferrerArtifact(steady, 'library/plain', subject, SPDX_SBOM);
    assert.equal(((await (await fetch(path)).json()) as ReferrersIndex).manifests.length, 1, 'still the cached answer');
    await new Promise((resolve) => setTimeout(resolve, 700));
    steady.resetCounts();
    assert.equal(((await (await fetch(path)).json()) as ReferrersIndex).manifests.length, 2);
    assert.equal(steady.count({ kind: 'referrers' }), 1);
  } finally {
    await short.close();
  }
});
