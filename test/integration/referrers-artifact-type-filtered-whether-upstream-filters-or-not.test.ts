import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { addReferrerArtifact, COSIGN_SIGNATURE, NOTATION_SIGNATURE, OCI_INDEX, type ReferrersIndex, SPDX_SBOM } from '../support/referrer-artifacts.ts';

// Issue 13 item 3: `?artifactType=` gives only referrers of that type, with `OCI-Filters-Applied:
// artifactType`, whether the upstream filtered (it says so) or not (the spec lets it ignore the
// parameter; the mirror then filters itself). Each filter is its own cache entry.

let filtering: MemoryRegistry;
let ignoring: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  filtering = await new MemoryRegistry().start();
  ignoring = await new MemoryRegistry({ referrersApi: { filter: false } }).start();
  mirror = await startMirror({ filtering: { url: filtering.url }, ignoring: { url: ignoring.url } });
});
after(async () => {
  await mirror.close();
  await filtering.stop();
  await ignoring.stop();
});

for (const name of ['filtering', 'ignoring'] as const) {
  test(`artifactType filter through an upstream that is ${name} it`, async () => {
    const registry = name === 'filtering' ? filtering : ignoring;
    const image = registry.addImage('team/signed', 'v1');
    const subject = { digest: image.digest, size: image.manifest.bytes.length };
    const cosign = addReferrerArtifact(registry, 'team/signed', subject, COSIGN_SIGNATURE);
    const notation = addReferrerArtifact(registry, 'team/signed', subject, NOTATION_SIGNATURE);
    const sbom = addReferrerArtifact(registry, 'team/signed', subject, SPDX_SBOM);
    const base = `${mirror.url}/${name}/v2/team/signed/referrers/${image.digest}`;
    registry.resetCounts();

    for (const round of [1, 2]) {
      const all = await fetch(base);
      assert.equal(all.status, 200);
      assert.equal(all.headers.get('content-type'), OCI_INDEX);
      assert.equal(all.headers.get('oci-filters-applied'), null, 'no filter asked, none applied');
      assert.deepEqual(((await all.json()) as ReferrersIndex).manifests.map((m) => m.digest), [cosign.digest, notation.digest, sbom.digest]);

      for (const [type, expected] of [[NOTATION_SIGNATURE, notation], [SPDX_SBOM, sbom]] as const) {
        const filtered = await fetch(`${base}?artifactType=${encodeURIComponent(type)}`);
        assert.equal(filtered.status, 200);
        assert.equal(filtered.headers.get('content-type'), OCI_INDEX);
        assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType', `${name} ${type} round ${round}`);
        const index = (await filtered.json()) as ReferrersIndex;
        assert.equal(index.schemaVersion, 2);
        assert.deepEqual(index.manifests.map((m) => m.digest), [expected.digest], `${name} ${type} round ${round}`);
        assert.deepEqual(index.manifests.map((m) => m.artifactType), [type]);
      }
      const none = (await (await fetch(`${base}?artifactType=${encodeURIComponent('application/x-nothing')}`)).json()) as ReferrersIndex;
      assert.deepEqual(none.manifests, []);
    }
    // One upstream request per filter (none, notation, sbom, nothing); the second round came from the cache.
    assert.equal(registry.count({ kind: 'referrers' }), 4);
    for (const request of registry.requests.filter((r) => r.kind === 'referrers')) {
      const query = new URL(request.path, registry.url).searchParams;
      assert.ok([...query.keys()].every((key) => key === 'artifactType'), request.path);
    }
  });
}
