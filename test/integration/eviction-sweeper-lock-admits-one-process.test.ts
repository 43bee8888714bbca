import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { LeasedSweepLock, SWEEP_LEASE_MS } from '../../src/eviction/sweep-lock.ts';
import { FileLock } from '../../src/storage/file-lock.ts';
import { openReplicaLocks } from '../../src/replicas/replica-locks.ts';

// Replicas sharing a store (and a `pullthrough gc` beside a server) sweep one at a time.

const REDIS_URL = process.env.PULLTHROUGH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const log = pino({ level: 'silent' });
let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-lock-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The filesystem store's sweeper lock (what FilesystemBlobStore.lock('eviction') hands out). */
function fileLock(leaseMs = SWEEP_LEASE_MS): FileLock {
  return new FileLock(path.join(dir, 'eviction.lock'), leaseMs);
}

test('with Redis: a second sweeper is refused while the first holds the lease, admitted after release', async () => {
  const name = `test:sweeper:${randomUUID()}`;
  const [firstLocks, secondLocks] = [openReplicaLocks({ redis: REDIS_URL }, log), openReplicaLocks({ redis: REDIS_URL }, log)];
  const first = new LeasedSweepLock(firstLocks, fileLock(), log, { name });
  const second = new LeasedSweepLock(secondLocks, fileLock(), log, { name });
  try {
    const lease = await first.tryAcquire();
    assert.ok(lease);
    assert.equal(await second.tryAcquire(), undefined);
    await lease.release();
    const next = await second.tryAcquire();
    assert.ok(next);
    await next.release();
  } finally {
    await firstLocks.close();
    await secondLocks.close();
  }
});

test('with Redis: a sweeper that died frees the lock when its lease runs out', async () => {
  const name = `test:sweeper:${randomUUID()}`;
  const [deadLocks, otherLocks] = [openReplicaLocks({ redis: REDIS_URL }, log), openReplicaLocks({ redis: REDIS_URL }, log)];
  const dead = new LeasedSweepLock(deadLocks, fileLock(), log, { name, leaseMs: 300 });
  const other = new LeasedSweepLock(otherLocks, fileLock(), log, { name, leaseMs: 300 });
  try {
    assert.ok(await dead.tryAcquire());
    await deadLocks.close(); // no more renewals: as if the process died
    assert.equal(await other.tryAcquire(), undefined);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const lease = await other.tryAcquire();
    assert.ok(lease);
    await lease.release();
  } finally {
    await otherLocks.close();
  }
});

test('without Redis: the lock file admits one sweeper, and is taken over once its lease is stale', async () => {
  const first = fileLock(60_000);
  const second = fileLock(60_000);
  const lease = await first.tryAcquire();
  assert.ok(lease);
  assert.equal(await second.tryAcquire(), undefined);
  // Not renewed for longer than the lease: its holder died.
  const past = new Date(Date.now() - 120_000);
  await utimes(path.join(dir, 'eviction.lock'), past, past);
  const takeover = await second.tryAcquire();
  assert.ok(takeover);
  // The old holder's release must not remove the new holder's lock.
  await lease.release();
  assert.equal(await first.tryAcquire(), undefined);
  await takeover.release();
  const again = await first.tryAcquire();
  assert.ok(again);
  await again.release();
});
