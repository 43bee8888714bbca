import { test } from 'node:test';
import { parseRegistryPath } from '../../src/routing.ts';
import { assertRegistryError } from './support/registry-error-assert.ts';

const HEX = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

test('.. and . segments in a name are NAME_INVALID', () => {
  for (const path of [
    '/v2/../etc/manifests/latest',
    '/v2/library/../../etc/manifests/latest',
    '/v2/library/./ubuntu/manifests/latest',
    `/v2/../blobs/sha256:${HEX}`,
    '/v2/../tags/list',
  ]) {
    assertRegistryError(() => parseRegistryPath(path), 'NAME_INVALID', path);
  }
});

test('percent-encoded dots and slashes in a name are NAME_INVALID', () => {
  for (const path of [
    '/v2/%2e%2e/etc/manifests/latest',
    '/v2/%2E%2E/manifests/latest',
    '/v2/library%2fubuntu/manifests/latest',
    '/v2/library%2Fubuntu/tags/list',
    '/v2/%2e%2e%2f%2e%2e%2fetc/blobs/uploads/',
  ]) {
    assertRegistryError(() => parseRegistryPath(path), 'NAME_INVALID', path);
  }
});

test('traversal in the tag position is TAG_INVALID', () => {
  for (const path of ['/v2/library/ubuntu/manifests/..', '/v2/library/ubuntu/manifests/%2e%2e', '/v2/library/ubuntu/manifests/a%2fb']) {
    assertRegistryError(() => parseRegistryPath(path), 'TAG_INVALID', path);
  }
});

test('traversal in the digest position is DIGEST_INVALID', () => {
  for (const path of ['/v2/library/ubuntu/blobs/..', '/v2/library/ubuntu/blobs/%2e%2e%2f%2e%2e', `/v2/library/ubuntu/blobs/sha256:..%2f${HEX}`]) {
    assertRegistryError(() => parseRegistryPath(path), 'DIGEST_INVALID', path);
  }
});
