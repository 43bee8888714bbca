import { test } from 'node:test';
import { parseRegistryPath } from '../../src/routing.ts';
import { assertRegistryError } from './support/registry-error-assert.ts';

test('/v2/ paths that match no endpoint are NAME_INVALID', () => {
  for (const path of [
    '/v2/library/ubuntu/manifests/',
    '/v2/library/ubuntu/manifests',
    '/v2//ubuntu/manifests/latest',
    '/v2/library/ubuntu/configs/latest',
    '/v2/library/ubuntu/tags/list/extra',
  ]) {
    assertRegistryError(() => parseRegistryPath(path), 'NAME_INVALID', path);
  }
});
