import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reserveOf } from '../../src/cache/quota-policy.ts';
import { limited, observed, snapshot } from '../../src/upstream/quota-view.ts';

const figures = (remaining: number, seenAt: number) => ({ limit: 100, remaining, windowSeconds: 60, seenAt });

test('the window starts at its first observation and ends w seconds later; then the quota is presumed full', () => {
  const first = observed(undefined, figures(10, 1_000));
  const later = observed(first, figures(7, 30_000));
  assert.equal(later.windowStart, 1_000, 'a lower count is the same window');
  assert.deepEqual(
    { remaining: snapshot(later, 'anonymous', 60_999)?.remaining, resetAt: snapshot(later, 'anonymous', 60_999)?.resetAt },
    { remaining: 7, resetAt: 61_000 },
  );
  assert.equal(snapshot(later, 'anonymous', 61_000)?.remaining, 100);
  assert.equal(snapshot(later, 'anonymous', 61_000)?.presumedReset, true);
  assert.equal(observed(later, figures(99, 40_000)).windowStart, 40_000, 'remaining went up: a new window');
  assert.equal(observed(later, figures(5, 70_000)).windowStart, 70_000, 'seen after the estimated end: a new window');
  assert.equal(observed(later, figures(3, 20_000)), later, 'an older answer changes nothing');
});

test('a 429 holds until Retry-After, else the estimated reset', () => {
  const record = observed(undefined, figures(4, 1_000));
  assert.equal(limited(record, 10_000, 5).limitedUntil, 15_000);
  assert.equal(limited(record, 10_000, undefined).limitedUntil, 61_000);
  assert.equal(snapshot(limited(record, 10_000, undefined), 'anonymous', 10_000)?.remaining, 0);
  assert.equal(limited(undefined, 10_000, undefined).limitedUntil, 70_000, 'no figures: one minute');
});

test('the reserve is a number of pulls or a percentage of the limit, rounded up', () => {
  assert.equal(reserveOf({ quota: { reserve: 3 } }, 100), 3);
  assert.equal(reserveOf({ quota: { reserve: '10%' } }, 100), 10);
  assert.equal(reserveOf({ quota: { reserve: '10%' } }, 15), 2);
});
