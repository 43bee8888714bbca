import { test } from 'node:test';
import { parseRegistryPath } from '../../src/routing.ts';
import { assertRegistryError } from './support/registry-error-assert.ts';

test('uppercase letters anywhere in a name are NAME_INVALID', () => {
  for (const path of ['/v2/Library/ubuntu/manifests/latest', '/v2/library/Ubuntu/manifests/latest', '/ghcr/v2/OWNER/img/tags/list']) {
    assertRegistryError(() => parseRegistryPath(path), 'NAME_INVALID', path);
  }
});
