import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { OCI_MANIFEST } from '../support/referrer-artifacts.ts';

// Issue 13 item 3: registries without the referrers API (distribution 2.8, and Docker Hub for cosign's
// default) keep signatures, attestations and SBOMs under the tag schema: `sha256-<hex>.sig`, `.att`,
// `.sbom` (cosign), `sha256-<hex>` (the distribution-spec fallback). Those are plain tags: after one
// online verification, every request a verifier makes is answered with the upstream stopped.

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry({ tokenAuth: true, referrersApi: { supported: false } }).start();
  mirror = await startMirror({ hub: { url: upstream.url, aliases: ['docker.io'], defaultNamespace: 'library', tagTtl: '50ms' } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

/** A cosign-style signature image: a simple-signing payload layer annotated with its signature. */
function addSignature(repository: string, tag: string, subject: string): { digest: string; layer: string; payload: Buffer } {
  const payload = Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': repository }, image: { 'docker-manifest-digest': subject }, type: 'cosign container image signature' }, optional: null }));
  const layer = upstream.addBlob(payload);
  const config = upstream.addBlob(Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [layer] } })));
  const body = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: upstream.blobs.get(config)?.length },
    layers: [{
      mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
      digest: layer,
      size: payload.length,
      annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQDfake' },
    }],
  };
  const manifest = upstream.putManifest(repository, tag, OCI_MANIFEST, Buffer.from(JSON.stringify(body)));
  return { digest: manifest.digest, layer, payload };
}

test('sha256-<hex>.sig/.att/.sbom tags and their layers work through the mirror with the upstream stopped', async () => {
  const image = upstream.addImage('library/signed', 'v1');
  const hex = image.digest.slice('sha256:'.length);
  const artifacts = ['sig', 'att', 'sbom'].map((suffix) => ({ tag: `sha256-${hex}.${suffix}`, ...addSignature('library/signed', `sha256-${hex}.${suffix}`, image.digest) }));
  const accept = `${OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json`;

  // Online, as cosign verify does it: the image, the referrers API (404: not supported), the tags, the payloads.
  assert.equal((await fetch(`${mirror.url}/v2/library/signed/manifests/v1`, { headers: { accept } })).status, 200);
  assert.equal((await fetch(`${mirror.url}/v2/library/signed/referrers/${image.digest}`)).status, 404);
  for (const artifact of artifacts) {
    const head = await fetch(`${mirror.url}/v2/library/signed/manifests/${artifact.tag}`, { method: 'HEAD', headers: { accept } });
    assert.equal(head.headers.get('docker-content-digest'), artifact.digest);
    assert.equal((await fetch(`${mirror.url}/v2/library/signed/manifests/${artifact.tag}`, { headers: { accept } })).status, 200);
    assert.deepEqual(Buffer.from(await (await fetch(`${mirror.url}/v2/library/signed/blobs/${artifact.layer}`)).arrayBuffer()), artifact.payload);
  }

  await new Promise((resolve) => setTimeout(resolve, 80));
  await upstream.stop();
  try {
    const manifest = await fetch(`${mirror.url}/v2/library/signed/manifests/v1`, { headers: { accept } });
    assert.equal(manifest.status, 200);
    assert.equal(manifest.headers.get('docker-content-digest'), image.digest);
    // Still "not supported", so the client takes the tag schema again.
    assert.equal((await fetch(`${mirror.url}/v2/library/signed/referrers/${image.digest}`)).status, 404);
    for (const artifact of artifacts) {
      for (const method of ['HEAD', 'GET']) {
        const response = await fetch(`${mirror.url}/v2/library/signed/manifests/${artifact.tag}`, { method, headers: { accept } });
        assert.equal(response.status, 200, `${method} ${artifact.tag} offline`);
        assert.equal(response.headers.get('docker-content-digest'), artifact.digest);
        assert.equal(response.headers.get('content-type'), OCI_MANIFEST);
        if (method === 'GET') assert.equal(JSON.parse(await response.text()).layers[0].digest, artifact.layer);
      }
      // containerd-style mirror request, too: ?ns= and the docker.io name.
      const byNs = await fetch(`${mirror.url}/v2/library/signed/manifests/${artifact.tag}?ns=docker.io`, { headers: { accept } });
      assert.equal(byNs.status, 200);
      const layer = await fetch(`${mirror.url}/v2/library/signed/blobs/${artifact.layer}`);
      assert.equal(layer.status, 200);
      assert.deepEqual(Buffer.from(await layer.arrayBuffer()), artifact.payload);
    }
  } finally {
    await upstream.start();
  }
});
