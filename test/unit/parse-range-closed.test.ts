import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRange } from '../../src/http-range.ts';

test('bytes=N-M is inclusive of both ends', () => {
  assert.deepEqual(parseRange('bytes=0-0', 10), { kind: 'range', range: { start: 0, end: 0 } });
  assert.deepEqual(parseRange('bytes=2-5', 10), { kind: 'range', range: { start: 2, end: 5 } });
  assert.deepEqual(parseRange('bytes=0-9', 10), { kind: 'range', range: { start: 0, end: 9 } });
});

test('a last position before the first is invalid and ignored (whole body)', () => {
  assert.deepEqual(parseRange('bytes=5-3', 10), { kind: 'none' });
});
