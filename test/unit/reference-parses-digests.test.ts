import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDigest, requireDigest } from '../../src/reference.ts';
import { assertRegistryError } from './support/registry-error-assert.ts';

const HEX = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

test('sha256 and sha512 digests parse into algorithm, hex and text', () => {
  assert.deepEqual(parseDigest(`sha256:${HEX}`), { algorithm: 'sha256', hex: HEX, text: `sha256:${HEX}` });
  assert.deepEqual(parseDigest(`sha512:${HEX}${HEX}`), { algorithm: 'sha512', hex: HEX + HEX, text: `sha512:${HEX}${HEX}` });
});

test('malformed digests are undefined', () => {
  for (const text of [HEX, `sha256:${HEX}:`, `sha256:${HEX.toUpperCase()}`, `sha512:${HEX}`, `sha256:${HEX}${HEX}`, `md5:${HEX}`, `toString:${HEX}`, `__proto__:${HEX}`, `:${HEX}`, '']) {
    assert.equal(parseDigest(text), undefined, text);
  }
});

test('requireDigest throws DIGEST_INVALID for malformed digests', () => {
  assertRegistryError(() => requireDigest('sha256:abc'), 'DIGEST_INVALID');
  assert.equal(requireDigest(`sha256:${HEX}`).hex, HEX);
});
