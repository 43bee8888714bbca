import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRegistryPath } from '../../src/routing.ts';

const HEX = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

test('a name with a blobs segment is parsed whole for blobs and manifests', () => {
  const blob = parseRegistryPath(`/v2/team/blobs/store/blobs/sha256:${HEX}`);
  assert.deepEqual(blob?.endpoint, { kind: 'blob', name: 'team/blobs/store', digest: { algorithm: 'sha256', hex: HEX, text: `sha256:${HEX}` } });
  const manifest = parseRegistryPath('/v2/blobs/manifests/latest');
  assert.deepEqual(manifest?.endpoint, { kind: 'manifest', name: 'blobs', reference: { kind: 'tag', tag: 'latest' } });
});

test('a name with a manifests segment is parsed whole', () => {
  const parsed = parseRegistryPath('/v2/org/manifests/app/manifests/v1');
  assert.deepEqual(parsed?.endpoint, { kind: 'manifest', name: 'org/manifests/app', reference: { kind: 'tag', tag: 'v1' } });
  const blobsOfManifests = parseRegistryPath(`/v2/manifests/blobs/sha256:${HEX}`);
  assert.equal(blobsOfManifests?.endpoint.kind, 'blob');
  assert.equal(blobsOfManifests?.endpoint.kind === 'blob' ? blobsOfManifests.endpoint.name : undefined, 'manifests');
});

test('a name with a referrers segment is parsed whole', () => {
  const parsed = parseRegistryPath('/v2/x/referrers/y/manifests/latest');
  assert.deepEqual(parsed?.endpoint, { kind: 'manifest', name: 'x/referrers/y', reference: { kind: 'tag', tag: 'latest' } });
});
