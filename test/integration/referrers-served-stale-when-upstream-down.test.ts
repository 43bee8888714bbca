import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { addReferrerArtifact, COSIGN_SIGNATURE, OCI_INDEX, OCI_MANIFEST, type ReferrersIndex } from '../support/referrer-artifacts.ts';

// Issue 13 item 3: a signed image's referrers keep being served when the upstream is unreachable, 5xx or
// 429 — the listing stale, and the referrer manifest and its layer by digest from the store — so
// signature verification works offline after one online pull.

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry({ tokenAuth: true }).start();
  mirror = await startMirror({ hub: { url: upstream.url, tagTtl: '50ms' } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

for (const failure of [{ status: 500 }, { status: 429 }, { status: 503 }]) {
  test(`expired referrers are served stale when the upstream answers ${failure.status}`, async () => {
    const repository = `stale/referrers-${failure.status}`;
    const image = upstream.addImage(repository, 'v1');
    const signature = addReferrerArtifact(upstream, repository, { digest: image.digest, size: image.manifest.bytes.length }, COSIGN_SIGNATURE);
    const path = `${mirror.url}/v2/${repository}/referrers/${image.digest}?artifactType=${encodeURIComponent(COSIGN_SIGNATURE)}`;
    assert.equal((await fetch(path)).status, 200);
    await pause(80);
    upstream.failWith = { status: failure.status, headers: { 'retry-after': '7' }, kinds: ['referrers'] };
    try {
      upstream.resetCounts();
      const stale = await fetch(path);
      assert.equal(stale.status, 200);
      assert.equal(stale.headers.get('oci-filters-applied'), 'artifactType');
      assert.deepEqual(((await stale.json()) as ReferrersIndex).manifests.map((m) => m.digest), [signature.digest]);
      assert.equal(upstream.count({ kind: 'referrers' }), 1, 'it did ask');
    } finally {
      upstream.failWith = undefined;
    }
  });
}

test('with nothing cached, an upstream 429 is TOOMANYREQUESTS and a 5xx is UNAVAILABLE', async () => {
  const image = upstream.addImage('stale/never-listed', 'v1');
  for (const [status, code] of [[429, 'TOOMANYREQUESTS'], [502, 'UNAVAILABLE']] as const) {
    upstream.failWith = { status, headers: { 'retry-after': '7' }, kinds: ['referrers'] };
    try {
      const response = await fetch(`${mirror.url}/v2/stale/never-listed/referrers/${image.digest}`);
      assert.equal(response.status, status === 429 ? 429 : 503);
      const body = (await response.json()) as { errors: Array<{ code: string }> };
      assert.equal(body.errors[0]?.code, code);
    } finally {
      upstream.failWith = undefined;
    }
  }
});

test('upstream stopped: referrers listing, referrer manifest and its layer are all served from the cache', async () => {
  const image = upstream.addImage('library/offline', 'v1');
  const signature = addReferrerArtifact(upstream, 'library/offline', { digest: image.digest, size: image.manifest.bytes.length }, COSIGN_SIGNATURE);
  // What a verifier does online: the image by tag, its referrers, the referrer by digest, its layer.
  const paths = [
    '/v2/library/offline/manifests/v1',
    `/v2/library/offline/referrers/${image.digest}`,
    `/v2/library/offline/referrers/${image.digest}?artifactType=${encodeURIComponent(COSIGN_SIGNATURE)}`,
    `/v2/library/offline/manifests/${signature.digest}`,
    `/v2/library/offline/blobs/${signature.layer}`,
  ];
  const online: Buffer[] = [];
  for (const path of paths) {
    const response = await fetch(`${mirror.url}${path}`, { headers: { accept: `${OCI_MANIFEST}, ${OCI_INDEX}, application/vnd.docker.distribution.manifest.v2+json` } });
    assert.equal(response.status, 200, path);
    online.push(Buffer.from(await response.arrayBuffer()));
  }
  await pause(80);
  await upstream.stop();
  try {
    for (const [i, path] of paths.entries()) {
      const response = await fetch(`${mirror.url}${path}`);
      assert.equal(response.status, 200, `offline ${path}`);
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), online[i], `offline ${path}: same bytes`);
    }
    const index = (await (await fetch(`${mirror.url}${paths[1]}`)).json()) as ReferrersIndex;
    assert.deepEqual(index.manifests.map((m) => m.digest), [signature.digest]);
    const manifest = await fetch(`${mirror.url}${paths[3]}`);
    assert.equal(manifest.headers.get('content-type'), OCI_MANIFEST);
    assert.equal(manifest.headers.get('docker-content-digest'), signature.digest);
    assert.deepEqual(Buffer.from(await manifest.arrayBuffer()), signature.bytes);
    const layer = await fetch(`${mirror.url}${paths[4]}`);
    assert.deepEqual(Buffer.from(await layer.arrayBuffer()), signature.layerBytes);
  } finally {
    await upstream.start();
  }
});
