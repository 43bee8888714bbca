import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planEviction } from '../../src/eviction/eviction-plan.ts';

const HOUR = 3_600_000;
const now = 100 * HOUR;

test('a layer older than its manifest still goes after the manifest, and unrelated newer blobs stay', () => {
  const plan = planEviction(
    [
      { digest: 'sha256:other', size: 100, accessedAt: now - 5 * HOUR },
      { digest: 'sha256:layer', size: 100, accessedAt: now - 10 * HOUR },
      { digest: 'sha256:manifest', size: 10, accessedAt: now - 8 * HOUR, references: ['sha256:config', 'sha256:layer'] },
      { digest: 'sha256:config', size: 10, accessedAt: now - 9 * HOUR },
    ],
    // 220 bytes, cap 150 → down to 135: the manifest alone (10) is not enough.
    { maxBytes: 150, graceMs: 0, now },
  );
  // Plain LRU would have evicted the layer first, leaving a kept manifest whose layer is gone.
  assert.equal(plan.evict[0]?.digest, 'sha256:manifest');
  assert.deepEqual(new Set(plan.evict.map((e) => e.digest)), new Set(['sha256:manifest', 'sha256:config', 'sha256:layer']));
  assert.ok(!plan.evict.some((e) => e.digest === 'sha256:other'));
});

test('a blob named by a manifest that stays is never evicted, nor is the child manifest of a kept index', () => {
  const plan = planEviction(
    [
      { digest: 'sha256:index', size: 10, accessedAt: now - 1000, references: ['sha256:amd64'] },
      { digest: 'sha256:amd64', size: 10, accessedAt: now - 9 * HOUR, references: ['sha256:layer'] },
      { digest: 'sha256:layer', size: 500, accessedAt: now - 10 * HOUR },
    ],
    // The index was used within the grace period: it stays, so everything it names stays too.
    { maxBytes: 1, graceMs: 60_000, now },
  );
  assert.deepEqual(plan.evict, []);
  assert.equal(plan.protectedBytes, 520);
});
