import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTag, parseManifestReference } from '../../src/reference.ts';
import { assertRegistryError } from './support/registry-error-assert.ts';

const HEX = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

test('a reference with a colon is a digest, otherwise a tag', () => {
  assert.deepEqual(parseManifestReference('latest'), { kind: 'tag', tag: 'latest' });
  assert.deepEqual(parseManifestReference(`sha256:${HEX}`), { kind: 'digest', digest: { algorithm: 'sha256', hex: HEX, text: `sha256:${HEX}` } });
});

test('tags follow the grammar: up to 128 chars, no leading dot or dash', () => {
  for (const tag of ['latest', 'V1.2.3', '_x', '1', 'a-b_c.d', 'a'.repeat(128)]) assert.equal(isTag(tag), true, tag);
  for (const tag of ['', '.x', '-x', 'a/b', 'a+b', 'a'.repeat(129), 'a b']) assert.equal(isTag(tag), false, JSON.stringify(tag));
});

test('a malformed tag is TAG_INVALID and a colon with a bad digest is DIGEST_INVALID', () => {
  assertRegistryError(() => parseManifestReference('-bad'), 'TAG_INVALID');
  assertRegistryError(() => parseManifestReference('v1:2'), 'DIGEST_INVALID');
});
