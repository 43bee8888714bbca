import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRegistryPath } from '../../src/routing.ts';

test('a manifest by tag yields the name and the tag', () => {
  assert.deepEqual(parseRegistryPath('/v2/library/ubuntu/manifests/latest'), {
    endpoint: { kind: 'manifest', name: 'library/ubuntu', reference: { kind: 'tag', tag: 'latest' } },
  });
});

test('a prefixed manifest by tag keeps the prefix apart from the name', () => {
  assert.deepEqual(parseRegistryPath('/ghcr/v2/owner/img/manifests/v1.2.3-rc_1'), {
    prefix: 'ghcr',
    endpoint: { kind: 'manifest', name: 'owner/img', reference: { kind: 'tag', tag: 'v1.2.3-rc_1' } },
  });
});

test('a single-segment name is kept as written (library/ is the router\'s business)', () => {
  const parsed = parseRegistryPath('/v2/ubuntu/manifests/22.04');
  assert.deepEqual(parsed?.endpoint, { kind: 'manifest', name: 'ubuntu', reference: { kind: 'tag', tag: '22.04' } });
});
