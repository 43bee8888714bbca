import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRegistryPath } from '../../src/routing.ts';

test('upload start and upload session paths are the upload endpoint', () => {
  const expected = { endpoint: { kind: 'upload', name: 'library/ubuntu' } };
  assert.deepEqual(parseRegistryPath('/v2/library/ubuntu/blobs/uploads/'), expected);
  assert.deepEqual(parseRegistryPath('/v2/library/ubuntu/blobs/uploads'), expected);
  assert.deepEqual(parseRegistryPath('/v2/library/ubuntu/blobs/uploads/4f1c9d1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f'), expected);
});

test('a prefixed upload keeps its prefix', () => {
  assert.deepEqual(parseRegistryPath('/ghcr/v2/owner/img/blobs/uploads/'), {
    prefix: 'ghcr',
    endpoint: { kind: 'upload', name: 'owner/img' },
  });
});
