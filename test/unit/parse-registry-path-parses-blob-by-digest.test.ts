import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRegistryPath } from '../../src/routing.ts';
import { assertRegistryError } from './support/registry-error-assert.ts';

const HEX = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

test('a blob path yields the name and the parsed digest', () => {
  assert.deepEqual(parseRegistryPath(`/v2/library/redis/blobs/sha256:${HEX}`), {
    endpoint: { kind: 'blob', name: 'library/redis', digest: { algorithm: 'sha256', hex: HEX, text: `sha256:${HEX}` } },
  });
});

test('a blob addressed by a tag instead of a digest is DIGEST_INVALID', () => {
  assertRegistryError(() => parseRegistryPath('/v2/library/redis/blobs/latest'), 'DIGEST_INVALID');
});
