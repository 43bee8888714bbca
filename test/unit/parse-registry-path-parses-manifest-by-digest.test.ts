import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRegistryPath } from '../../src/routing.ts';

const SHA256 = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const SHA512 = SHA256 + SHA256;

test('a manifest by sha256 digest yields a digest reference', () => {
  assert.deepEqual(parseRegistryPath(`/v2/library/ubuntu/manifests/sha256:${SHA256}`), {
    endpoint: {
      kind: 'manifest',
      name: 'library/ubuntu',
      reference: { kind: 'digest', digest: { algorithm: 'sha256', hex: SHA256, text: `sha256:${SHA256}` } },
    },
  });
});

test('a manifest by sha512 digest is accepted too', () => {
  const parsed = parseRegistryPath(`/quay/v2/org/app/manifests/sha512:${SHA512}`);
  assert.equal(parsed?.prefix, 'quay');
  assert.deepEqual(parsed?.endpoint, {
    kind: 'manifest',
    name: 'org/app',
    reference: { kind: 'digest', digest: { algorithm: 'sha512', hex: SHA512, text: `sha512:${SHA512}` } },
  });
});
