import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from '../../src/duration.ts';

test('text that is not a duration is undefined', () => {
  for (const text of ['', '   ', 'soon', '-5s', '5 m', '5M', '1m30', 'm5', '1w', '1h 30m', '1e3s', '.5s', '5s!']) {
    assert.equal(parseDuration(text), undefined, JSON.stringify(text));
  }
});

test('a failed parse does not disturb the next one', () => {
  assert.equal(parseDuration('1h x'), undefined);
  assert.equal(parseDuration('10s'), 10_000);
});
