import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRegistryPath } from '../../src/routing.ts';

test('/v2/v2/manifests/latest is the repository "v2", not a prefix "v2"', () => {
  assert.deepEqual(parseRegistryPath('/v2/v2/manifests/latest'), {
    endpoint: { kind: 'manifest', name: 'v2', reference: { kind: 'tag', tag: 'latest' } },
  });
});

test('v2 as an inner or last name segment is kept in the name', () => {
  assert.deepEqual(parseRegistryPath('/v2/org/v2/tags/list'), { endpoint: { kind: 'tags', name: 'org/v2' } });
  assert.deepEqual(parseRegistryPath('/v2/v2/v2/manifests/1'), {
    endpoint: { kind: 'manifest', name: 'v2/v2', reference: { kind: 'tag', tag: '1' } },
  });
});

test('a prefixed request for a repository named v2 keeps both', () => {
  assert.deepEqual(parseRegistryPath('/dockerhub/v2/v2/manifests/latest'), {
    prefix: 'dockerhub',
    endpoint: { kind: 'manifest', name: 'v2', reference: { kind: 'tag', tag: 'latest' } },
  });
});
