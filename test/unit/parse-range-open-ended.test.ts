import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRange } from '../../src/http-range.ts';

test('bytes=N- is from N to the last byte', () => {
  assert.deepEqual(parseRange('bytes=100-', 1000), { kind: 'range', range: { start: 100, end: 999 } });
  assert.deepEqual(parseRange('bytes=0-', 1000), { kind: 'range', range: { start: 0, end: 999 } });
  assert.deepEqual(parseRange('bytes=999-', 1000), { kind: 'range', range: { start: 999, end: 999 } });
});

test('the unit is case-insensitive and spaces around the parts are tolerated', () => {
  assert.deepEqual(parseRange('Bytes = 10 -', 20), { kind: 'range', range: { start: 10, end: 19 } });
});
