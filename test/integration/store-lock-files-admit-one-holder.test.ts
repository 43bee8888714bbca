import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { StoreLocks } from '../../src/replicas/store-locks.ts';
import { FileLock, notedLockFile } from '../../src/storage/file-lock.ts';

// The leases of `workers: N` without Redis are lock files in the store (src/replicas/store-locks.ts): a
// tag lease names a repository and a tag, and a dead holder's file is taken over by exactly one process.

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-store-locks-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const locks = (): StoreLocks => new StoreLocks((name, leaseMs) => new FileLock(notedLockFile(path.join(dir, 'leases'), name), leaseMs), pino({ level: 'silent' }));

test('a lease named by repository and tag is held by one worker; the other is refused, not waved through', async () => {
  const name = 'tag:dockerhub/library/ubuntu:24.04_RC.1';
  const [first, second] = [locks(), locks()];
  const lease = await first.tryAcquire(name);
  assert.ok(lease);
  assert.equal(await second.tryAcquire(name), undefined, 'a second holder of the same tag lease');
  await lease.publish('note for followers');
  assert.deepEqual(await second.peek(name), { held: true, info: 'note for followers' });
  await lease.release();
  const next = await second.tryAcquire(name);
  assert.ok(next, 'free again after release');
  await next.release();
  // One file per name, inside leases/, whatever the name holds.
  const other = notedLockFile(path.join(dir, 'leases'), 'tag:hub/../../etc:passwd');
  assert.equal(path.dirname(other), path.join(dir, 'leases'));
  assert.match(path.basename(other), /^tag\.[0-9a-f]{40}\.lock$/);
});

test('a dead holder’s lock is taken over by exactly one of many processes trying at once', async () => {
  for (let round = 0; round < 20; round++) {
    const file = path.join(dir, `stale-${round}.lock`);
    // A lease long enough that its holder would not renew it during the test: it plays dead.
    const dead = await new FileLock(file, 3_600_000).tryAcquire();
    assert.ok(dead);
    // Its holder stopped renewing it long ago.
    const past = new Date(Date.now() - 60_000);
    await utimes(file, past, past);
    const takers = await Promise.all(Array.from({ length: 8 }, () => new FileLock(file, 10_000).tryAcquire()));
    const holders = takers.filter((lease) => lease !== undefined);
    assert.equal(holders.length, 1, `round ${round}: ${holders.length} processes hold the lock`);
    await Promise.all(holders.map((lease) => lease.release()));
    await dead.release();
  }
  assert.deepEqual((await readdir(dir)).filter((name) => name.includes('.stale.')), [], 'nothing left aside');
});
