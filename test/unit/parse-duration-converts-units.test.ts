import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from '../../src/duration.ts';

test('each unit converts to milliseconds', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('1d'), 86_400_000);
});

test('compound and fractional durations add up', () => {
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1m30s500ms'), 90_500);
  assert.equal(parseDuration('1.5h'), 5_400_000);
  assert.equal(parseDuration('0.5s'), 500);
});

test('bare numbers are seconds and surrounding spaces are ignored', () => {
  assert.equal(parseDuration('30'), 30_000);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('  5m  '), 300_000);
});
