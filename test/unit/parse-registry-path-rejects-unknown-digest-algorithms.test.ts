import { test } from 'node:test';
import { parseRegistryPath } from '../../src/routing.ts';
import { assertRegistryError } from './support/registry-error-assert.ts';

const HEX = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

test('digests with algorithms the store cannot verify are DIGEST_INVALID', () => {
  for (const digest of ['md5:0123456789abcdef0123456789abcdef', `sha384:${HEX}`, `SHA256:${HEX}`, `blake3:${HEX}`]) {
    assertRegistryError(() => parseRegistryPath(`/v2/app/blobs/${digest}`), 'DIGEST_INVALID', digest);
    assertRegistryError(() => parseRegistryPath(`/v2/app/manifests/${digest}`), 'DIGEST_INVALID', digest);
  }
});

test('sha256 digests with the wrong length or uppercase hex are DIGEST_INVALID', () => {
  for (const digest of [`sha256:${HEX.slice(1)}`, `sha256:${HEX}0`, `sha256:${HEX.toUpperCase()}`, 'sha256:', `sha256:${'g'.repeat(64)}`]) {
    assertRegistryError(() => parseRegistryPath(`/v2/app/blobs/${digest}`), 'DIGEST_INVALID', digest);
  }
});

test('only the digest colon may be escaped: any other escape is invalid, never decoded', () => {
  assertRegistryError(() => parseRegistryPath('/v2/app/manifests/sha256%3'), 'TAG_INVALID');
  assertRegistryError(() => parseRegistryPath('/v2/app/manifests/lat%65st'), 'TAG_INVALID');
  assertRegistryError(() => parseRegistryPath('/v2/app/blobs/%zz'), 'DIGEST_INVALID');
  assertRegistryError(() => parseRegistryPath(`/v2/app/blobs/sha256%3a${HEX}%00`), 'DIGEST_INVALID');
});
