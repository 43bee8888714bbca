import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRegistryPath } from '../../src/routing.ts';
import { assertRegistryError } from './support/registry-error-assert.ts';

test('a 255-character name is accepted', () => {
  const name = `${'a'.repeat(127)}/${'b'.repeat(127)}`;
  assert.equal(name.length, 255);
  assert.deepEqual(parseRegistryPath(`/v2/${name}/tags/list`), { endpoint: { kind: 'tags', name } });
});

test('a 256-character name is NAME_INVALID', () => {
  const name = `${'a'.repeat(128)}/${'b'.repeat(127)}`;
  assert.equal(name.length, 256);
  assertRegistryError(() => parseRegistryPath(`/v2/${name}/manifests/latest`), 'NAME_INVALID');
  assertRegistryError(() => parseRegistryPath(`/v2/${'c'.repeat(1000)}/tags/list`), 'NAME_INVALID');
});
