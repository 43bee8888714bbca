import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRegistryPath } from '../../src/routing.ts';

const HEX = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const digest = { algorithm: 'sha256', hex: HEX, text: `sha256:${HEX}` };

test('sha256%3A... on a blob is the digest sha256:...', () => {
  assert.deepEqual(parseRegistryPath(`/v2/library/ubuntu/blobs/sha256%3A${HEX}`)?.endpoint, { kind: 'blob', name: 'library/ubuntu', digest });
});

test('lowercase %3a on a manifest is decoded the same way', () => {
  assert.deepEqual(parseRegistryPath(`/v2/library/ubuntu/manifests/sha256%3a${HEX}`)?.endpoint, {
    kind: 'manifest',
    name: 'library/ubuntu',
    reference: { kind: 'digest', digest },
  });
});

test('the decoded digest text has a real colon, never the escape', () => {
  const parsed = parseRegistryPath(`/v2/x/referrers/sha256%3A${HEX}`);
  assert.equal(parsed?.endpoint.kind === 'referrers' ? parsed.endpoint.digest.text : undefined, `sha256:${HEX}`);
});
