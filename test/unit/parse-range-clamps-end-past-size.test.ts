import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRange } from '../../src/http-range.ts';

test('an end past the last byte is clamped to it', () => {
  assert.deepEqual(parseRange('bytes=5-100', 10), { kind: 'range', range: { start: 5, end: 9 } });
  assert.deepEqual(parseRange('bytes=0-99999999999999999999', 10), { kind: 'range', range: { start: 0, end: 9 } });
});
