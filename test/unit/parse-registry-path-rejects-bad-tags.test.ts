import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRegistryPath } from '../../src/routing.ts';
import { assertRegistryError } from './support/registry-error-assert.ts';

test('a 128-character tag is accepted', () => {
  const tag = `v${'1'.repeat(127)}`;
  const parsed = parseRegistryPath(`/v2/app/manifests/${tag}`);
  assert.deepEqual(parsed?.endpoint, { kind: 'manifest', name: 'app', reference: { kind: 'tag', tag } });
});

test('malformed tags are TAG_INVALID', () => {
  for (const tag of [`v${'1'.repeat(128)}`, '.hidden', '-dash', 'a+b', 'tag%20x', 'caf%C3%A9']) {
    assertRegistryError(() => parseRegistryPath(`/v2/app/manifests/${tag}`), 'TAG_INVALID', tag);
  }
});
