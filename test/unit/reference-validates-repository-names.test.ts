import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertValidName, isValidName } from '../../src/reference.ts';
import { assertRegistryError } from './support/registry-error-assert.ts';

test('names following the OCI grammar are valid', () => {
  for (const name of ['ubuntu', 'library/ubuntu', 'a/b/c/d', 'my-app', 'my--app', 'my_app', 'my__app', 'my.app', 'v2', '0', 'a'.repeat(255)]) {
    assert.equal(isValidName(name), true, name);
  }
});

test('names breaking the grammar are invalid', () => {
  for (const name of ['', 'Ubuntu', 'a//b', '/a', 'a/', '-a', 'a-', 'a___b', 'a.-b', '.a', '..', 'a/../b', 'a b', 'a:b', 'é', 'a'.repeat(256)]) {
    assert.equal(isValidName(name), false, JSON.stringify(name));
  }
});

test('assertValidName throws NAME_INVALID', () => {
  assertRegistryError(() => assertValidName('Bad/Name'), 'NAME_INVALID');
  assert.doesNotThrow(() => assertValidName('good/name'));
});
