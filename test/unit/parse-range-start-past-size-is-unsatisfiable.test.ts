import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRange } from '../../src/http-range.ts';

test('a start at or past the size is unsatisfiable', () => {
  assert.deepEqual(parseRange('bytes=10-', 10), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=11-20', 10), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=99999999999999999999-', 10), { kind: 'unsatisfiable' });
});

test('any range on an empty body is unsatisfiable', () => {
  assert.deepEqual(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-5', 0), { kind: 'unsatisfiable' });
});
