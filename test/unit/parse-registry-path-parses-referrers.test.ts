import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRegistryPath } from '../../src/routing.ts';
import { assertRegistryError } from './support/registry-error-assert.ts';

const HEX = 'fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210';

test('/v2/<name>/referrers/<digest> is the referrers endpoint', () => {
  assert.deepEqual(parseRegistryPath(`/ghcr/v2/owner/img/referrers/sha256:${HEX}`), {
    prefix: 'ghcr',
    endpoint: { kind: 'referrers', name: 'owner/img', digest: { algorithm: 'sha256', hex: HEX, text: `sha256:${HEX}` } },
  });
});

test('referrers by tag is DIGEST_INVALID (the spec addresses referrers by digest only)', () => {
  assertRegistryError(() => parseRegistryPath('/v2/owner/img/referrers/latest'), 'DIGEST_INVALID');
});
