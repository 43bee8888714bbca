import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSize } from '../../src/duration.ts';

test('binary and decimal units convert to bytes', () => {
  assert.equal(parseSize('1024'), 1024);
  assert.equal(parseSize('512B'), 512);
  assert.equal(parseSize('2KB'), 2_000);
  assert.equal(parseSize('2KiB'), 2_048);
  assert.equal(parseSize('512MB'), 512_000_000);
  assert.equal(parseSize('1MiB'), 1_048_576);
  assert.equal(parseSize('50GiB'), 50 * 1024 ** 3);
  assert.equal(parseSize('1TB'), 1e12);
  assert.equal(parseSize('1TiB'), 1024 ** 4);
});

test('units are case-insensitive, spaces allowed, fractions floored to whole bytes', () => {
  assert.equal(parseSize('1 gb'), 1e9);
  assert.equal(parseSize(' 1.5KiB '), 1_536);
  assert.equal(parseSize('1.0001KiB'), 1_024);
});

test('text that is not a size is undefined', () => {
  for (const text of ['', 'big', '-1GB', '1PB', '1 G', 'GiB', '1GiB2']) {
    assert.equal(parseSize(text), undefined, JSON.stringify(text));
  }
});
