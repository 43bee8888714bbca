import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRegistryPath } from '../../src/routing.ts';

// "foo/blobs/uploads/bar" is a valid repository name by the spec's grammar. Distribution's router only
// takes /blobs/uploads/ as the upload endpoint when nothing but an upload id (no "/") follows it.
test('a name containing blobs/uploads segments is still a manifest request', () => {
  const parsed = parseRegistryPath('/v2/foo/blobs/uploads/bar/manifests/latest');
  assert.deepEqual(parsed?.endpoint, {
    kind: 'manifest',
    name: 'foo/blobs/uploads/bar',
    reference: { kind: 'tag', tag: 'latest' },
  });
});
