import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planEviction } from '../../src/eviction/eviction-plan.ts';

const now = 1_000_000_000;

test('blobs used within the grace period or being served survive even a cap of one byte', () => {
  const plan = planEviction(
    [
      { digest: 'sha256:recent', size: 100, accessedAt: now - 30_000 },
      { digest: 'sha256:serving', size: 100, accessedAt: now - 3_600_000 },
      { digest: 'sha256:stale', size: 100, accessedAt: now - 3_600_000 },
    ],
    { maxBytes: 1, graceMs: 5 * 60_000, now, pinned: new Set(['sha256:serving']) },
  );
  assert.deepEqual(plan.evict.map((e) => e.digest), ['sha256:stale']);
  assert.equal(plan.protectedBytes, 200);
});

test('bytes of fills in flight count against the cap', () => {
  const blobs = [
    { digest: 'sha256:a', size: 100, accessedAt: now - 7200_000 },
    { digest: 'sha256:b', size: 100, accessedAt: now - 3600_000 },
  ];
  assert.deepEqual(planEviction(blobs, { maxBytes: 250, graceMs: 0, now }).evict, []);
  assert.deepEqual(planEviction(blobs, { maxBytes: 250, graceMs: 0, now, extraBytes: 100 }).evict.map((e) => e.digest), ['sha256:a']);
});
