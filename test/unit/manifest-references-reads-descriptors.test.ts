import assert from 'node:assert/strict';
import { test } from 'node:test';
import { manifestReferences } from '../../src/eviction/manifest-references.ts';

test('an image manifest names its config and layers; an index its manifests; other blobs name nothing', () => {
  const image = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { digest: 'sha256:c', size: 1 },
    layers: [{ digest: 'sha256:l1', size: 1 }, { digest: 'sha256:l2', size: 1 }],
    subject: { digest: 'sha256:someone-else', size: 1 },
  };
  assert.deepEqual(manifestReferences(Buffer.from(JSON.stringify(image, null, 3))), ['sha256:c', 'sha256:l1', 'sha256:l2']);
  const index = { schemaVersion: 2, manifests: [{ digest: 'sha256:m1', platform: { os: 'linux' } }, { digest: 'sha256:m2' }] };
  assert.deepEqual(manifestReferences(Buffer.from(JSON.stringify(index))), ['sha256:m1', 'sha256:m2']);
  assert.deepEqual(manifestReferences(Buffer.from(JSON.stringify({ schemaVersion: 1, fsLayers: [{ blobSum: 'sha256:s1' }] }))), ['sha256:s1']);
  assert.equal(manifestReferences(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: {} }))), undefined);
  assert.equal(manifestReferences(Buffer.from([0x1f, 0x8b, 0x08, 0x00])), undefined);
});
