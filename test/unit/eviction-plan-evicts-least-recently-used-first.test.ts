import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planEviction } from '../../src/eviction/eviction-plan.ts';

const HOUR = 3_600_000;
const now = 100 * HOUR;

test('over the cap, the least recently used blobs go first, down to the low-water mark', () => {
  const plan = planEviction(
    [
      { digest: 'sha256:a', size: 100, accessedAt: now - 3 * HOUR },
      { digest: 'sha256:b', size: 100, accessedAt: now - 1 * HOUR },
      { digest: 'sha256:c', size: 100, accessedAt: now - 5 * HOUR },
      { digest: 'sha256:d', size: 100, accessedAt: now - 2 * HOUR },
    ],
    { maxBytes: 250, graceMs: 60_000, now },
  );
  // 400 bytes against a 250 cap: down to 225 (90 %), so the two oldest go, oldest first.
  assert.deepEqual(plan.evict.map((e) => e.digest), ['sha256:c', 'sha256:a']);
  assert.equal(plan.bytesAfter, 200);
  assert.ok(plan.evict.every((e) => e.reason === 'size'));
});

test('under the cap nothing goes, unless it is older than maxAge', () => {
  const blobs = [
    { digest: 'sha256:old', size: 10, accessedAt: now - 48 * HOUR },
    { digest: 'sha256:new', size: 10, accessedAt: now - 1 * HOUR },
  ];
  assert.deepEqual(planEviction(blobs, { maxBytes: 1000, graceMs: 0, now }).evict, []);
  const aged = planEviction(blobs, { maxBytes: 1000, maxAgeMs: 24 * HOUR, graceMs: 0, now });
  assert.deepEqual(aged.evict.map((e) => [e.digest, e.reason]), [['sha256:old', 'age']]);
});
