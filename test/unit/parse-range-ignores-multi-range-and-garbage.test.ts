import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRange } from '../../src/http-range.ts';

test('multiple ranges are ignored (whole body)', () => {
  assert.deepEqual(parseRange('bytes=0-1,5-6', 10), { kind: 'none' });
  assert.deepEqual(parseRange('bytes=0-1, -2', 10), { kind: 'none' });
});

test('malformed headers are ignored', () => {
  for (const header of ['', 'bytes', 'bytes=', 'bytes=-', 'items=0-5', 'bytes=a-b', 'bytes=1.5-', 'bytes 0-5/10', 'bytes=--5', 'bytes=0-5-']) {
    assert.deepEqual(parseRange(header, 10), { kind: 'none' }, JSON.stringify(header));
  }
});

test('no Range header is none', () => {
  assert.deepEqual(parseRange(undefined, 10), { kind: 'none' });
});
