import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { OCI_MANIFEST } from '../../src/manifest-media-types.ts';
import { type MirrorFixture, startMirrorFixture } from './support/mirror-fixture.ts';
import { skopeoInspect } from './support/skopeo-client.ts';

// Issue 13, items 5 and 6 with a real client and a real upstream (distribution behind token auth, as
// Docker Hub): skopeo asking for a missing tag or repository twice costs one upstream manifest request
// (negativeTtl defaults to 30 s); a client that accepts only OCI image manifests gets the linux/amd64
// manifest of a multi-arch index.

let fixture: MirrorFixture;

before(async () => {
  fixture = await startMirrorFixture({ namePrefix: 'skopeo-negative' });
});
after(async () => {
  await fixture?.stop();
});

for (const missing of [
  { what: 'a missing tag of a real repository', ref: 'skopeo-negative-oci:no-such-tag' },
  { what: 'a missing repository', ref: 'skopeo-negative-typo:v1' },
]) {
  test(`skopeo inspects ${missing.what} twice: both fail, one upstream manifest request`, async () => {
    fixture.upstream.resetCounts();
    for (let i = 0; i < 2; i++) {
      const result = await skopeoInspect(`${fixture.mirrorHost}/dockerhub/${missing.ref}`);
      assert.equal(result.ok, false);
      assert.match(result.output, /manifest unknown/i);
    }
    assert.equal(fixture.upstream.count({ kind: 'manifest', status: 404 }), 1, 'one answer from the upstream, the second from the negative cache');
    assert.ok(fixture.upstream.count({ kind: 'manifest' }) <= 2, 'at most the challenged request and its retry, once');
  });
}

test('the image still pulls by its real tag, and an OCI-manifest-only client gets the linux/amd64 manifest', async () => {
  const inspected = await skopeoInspect(`${fixture.mirrorHost}/dockerhub/skopeo-negative-oci:v1`);
  assert.ok(inspected.ok, inspected.output);
  assert.equal(inspected.digest, fixture.images.oci.digest);

  const multi = fixture.images['multi-arch'];
  const amd64 = multi.platforms.find((p) => p.platform.os === 'linux' && p.platform.architecture === 'amd64');
  assert.ok(amd64);
  const response = await fetch(`${fixture.mirror.url}/v2/${multi.name}/manifests/${multi.tag}`, { headers: { accept: OCI_MANIFEST } });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), OCI_MANIFEST);
  assert.equal(response.headers.get('docker-content-digest'), amd64.digest);
});
