import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

const SIGNATURE = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const SBOM = 'application/spdx+json';

let upstream: MemoryRegistry;
let mirror: TestMirror;
let subject: string;

before(async () => {
  upstream = await new MemoryRegistry({ tokenAuth: true }).start();
  mirror = await startMirror({ hub: { url: upstream.url, aliases: ['docker.io'], defaultNamespace: 'library' } });
  subject = upstream.addImage('library/signed', 'v1').digest;
  const manifest = 'application/vnd.oci.image.manifest.v1+json';
  upstream.addReferrer('library/signed', subject, { mediaType: manifest, digest: `sha256:${'1'.repeat(64)}`, size: 10, artifactType: SIGNATURE });
  upstream.addReferrer('library/signed', subject, { mediaType: manifest, digest: `sha256:${'2'.repeat(64)}`, size: 20, artifactType: SBOM });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

// Since issue 13 referrers are cached (referrers-cached-like-a-tag.test.ts); what is asked upstream is still
// only the listing with its one parameter, with the mirror's own token.

test('referrers pass through with artifactType forwarded, ?ns= and other parameters dropped', async () => {
  const query = `ns=docker.io&artifactType=${encodeURIComponent(SIGNATURE)}&n=5&last=x`;
  const response = await fetch(`${mirror.url}/v2/library/signed/referrers/${subject}?${query}`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
  assert.equal(response.headers.get('oci-filters-applied'), 'artifactType');
  const index = (await response.json()) as { manifests: Array<{ artifactType?: string }> };
  assert.deepEqual(index.manifests.map((m) => m.artifactType), [SIGNATURE]);

  const listings = upstream.requests.filter((r) => r.kind === 'referrers');
  assert.equal(listings.length, 1);
  const forwarded = new URL(listings[0]?.path ?? '', upstream.url);
  assert.equal(forwarded.pathname, `/v2/library/signed/referrers/${subject}`);
  assert.deepEqual([...forwarded.searchParams.keys()], ['artifactType']);
  assert.equal(forwarded.searchParams.get('artifactType'), SIGNATURE);
  assert.match(listings[0]?.authorization ?? '', /^Bearer t-/);
});
