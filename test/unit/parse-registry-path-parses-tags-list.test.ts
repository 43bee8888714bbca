import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRegistryPath } from '../../src/routing.ts';
import { assertRegistryError } from './support/registry-error-assert.ts';

test('/v2/<name>/tags/list is the tags endpoint', () => {
  assert.deepEqual(parseRegistryPath('/v2/library/ubuntu/tags/list'), { endpoint: { kind: 'tags', name: 'library/ubuntu' } });
  assert.deepEqual(parseRegistryPath('/k8s/v2/pause/tags/list'), { prefix: 'k8s', endpoint: { kind: 'tags', name: 'pause' } });
});

test('a name that itself contains a tags segment keeps it', () => {
  assert.deepEqual(parseRegistryPath('/v2/org/tags/app/tags/list'), { endpoint: { kind: 'tags', name: 'org/tags/app' } });
});

test('tags/list with an invalid name is NAME_INVALID', () => {
  assertRegistryError(() => parseRegistryPath('/v2/Library/Ubuntu/tags/list'), 'NAME_INVALID');
});
