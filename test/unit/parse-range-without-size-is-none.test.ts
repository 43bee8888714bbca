import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRange } from '../../src/http-range.ts';

test('without a known size even a valid range is none', () => {
  assert.deepEqual(parseRange('bytes=0-', undefined), { kind: 'none' });
  assert.deepEqual(parseRange('bytes=-5', undefined), { kind: 'none' });
  assert.deepEqual(parseRange('bytes=1-2', undefined), { kind: 'none' });
});
