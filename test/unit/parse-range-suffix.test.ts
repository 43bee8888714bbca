import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRange } from '../../src/http-range.ts';

test('bytes=-N is the last N bytes', () => {
  assert.deepEqual(parseRange('bytes=-3', 10), { kind: 'range', range: { start: 7, end: 9 } });
  assert.deepEqual(parseRange('bytes=-1', 10), { kind: 'range', range: { start: 9, end: 9 } });
});

test('a suffix longer than the body is the whole body', () => {
  assert.deepEqual(parseRange('bytes=-50', 10), { kind: 'range', range: { start: 0, end: 9 } });
});

test('a zero-length suffix is unsatisfiable', () => {
  assert.deepEqual(parseRange('bytes=-0', 10), { kind: 'unsatisfiable' });
});
