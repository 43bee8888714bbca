// One sweeper at a time, across every process that shares the store: the replicas of issue 6 and a
// `pullthrough gc` run next to a server. Two sweepers would not endanger readers (the grace period does
// that), but each would free the cap's worth of bytes, evicting far more than needed.
//
// With Redis configured the lock is the replicas' Redis lease (src/replicas/replica-locks.ts), renewed
// while the sweep runs, so a sweeper that dies frees it within the lease. Without Redis (or while Redis is
// unreachable) it is the store's own lock (BlobStore.lock: on the filesystem, a lock file with a lease
// beside the blobs, src/storage/file-lock.ts). A crash during a sweep therefore never blocks eviction for
// longer than one lease. The in-process part (one sweep per app) is the Evictor's single flight.

import type { ExclusiveLock, HeldLease } from '../leases/lease.ts';
import type { Logger } from '../logger.ts';
import type { ReplicaLocks } from '../replicas/replica-locks.ts';

export const SWEEP_LEASE_MS = 60_000;
export const SWEEP_LEASE_NAME = 'eviction:sweeper';

/** Held by the one sweeper; `lost` once it could not be renewed (another may have taken over: stop deleting). */
export type SweepLease = HeldLease;

export type SweepLock = ExclusiveLock;

/** The replicas' shared Redis lease; the store's lock while Redis is unreachable. */
export class LeasedSweepLock implements SweepLock {
  private readonly locks: ReplicaLocks;
  private readonly fallback: SweepLock;
  private readonly log: Logger;
  private readonly options: { leaseMs: number; name: string };

  constructor(locks: ReplicaLocks, fallback: SweepLock, log: Logger, options: { leaseMs?: number; name?: string } = {}) {
    this.locks = locks;
    this.fallback = fallback;
    this.log = log;
    this.options = { leaseMs: options.leaseMs ?? SWEEP_LEASE_MS, name: options.name ?? SWEEP_LEASE_NAME };
  }

  async tryAcquire(): Promise<SweepLease | undefined> {
    try {
      return await this.locks.tryAcquire(this.options.name, { leaseMs: this.options.leaseMs, whenUnavailable: 'throw' });
    } catch (error) {
      // Eviction keeps the disk from filling, so it must not stop with Redis: fall back to the store's lock.
      this.log.warn({ err: error }, "eviction lock: redis unavailable, using the store's lock");
      return this.fallback.tryAcquire();
    }
  }

  async close(): Promise<void> {
    // The replica locks belong to whoever made them (the app, or the gc command).
  }
}
