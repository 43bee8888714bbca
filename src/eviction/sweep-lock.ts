// One sweeper at a time, across every process that shares the store: the replicas of issue 6 and a
// `pullthrough gc` run next to a server. Two sweepers would not endanger readers (the grace period does
// that), but each would free the cap's worth of bytes, evicting far more than needed.
//
// With Redis configured the lock is the replicas' Redis lease (src/replicas/replica-locks.ts), renewed
// while the sweep runs, so a sweeper that dies frees it within the lease. Without Redis (or while Redis is unreachable) it is a
// lock file with a lease beside the blobs on the shared volume: exclusive create, renewed by touching it,
// taken over once it is older than the lease. A crash during a sweep therefore never blocks eviction for
// longer than one lease. The in-process part (one sweep per app) is the Evictor's single flight.

import { randomUUID } from 'node:crypto';
import { open, readFile, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.ts';
import type { ReplicaLocks } from '../replicas/replica-locks.ts';

export const SWEEP_LEASE_MS = 60_000;
export const SWEEP_LEASE_NAME = 'eviction:sweeper';

export interface SweepLease {
  /** True once the lease could not be renewed: another sweeper may have taken over, so stop deleting. */
  readonly lost: boolean;
  release(): Promise<void>;
}

export interface SweepLock {
  /** The lease, or undefined when another sweeper holds it. */
  tryAcquire(): Promise<SweepLease | undefined>;
  close(): Promise<void>;
}

class RenewedLease implements SweepLease {
  lost = false;
  private readonly timer: NodeJS.Timeout;
  private readonly releaseOnce: () => Promise<void>;

  constructor(renew: () => Promise<boolean>, release: () => Promise<void>, leaseMs: number) {
    this.timer = setInterval(() => {
      renew().then(
        (ok) => (this.lost ||= !ok),
        () => (this.lost = true),
      );
    }, leaseMs / 3);
    this.timer.unref();
    this.releaseOnce = release;
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.releaseOnce().catch(() => undefined);
  }
}

/** A lock file with a lease in the store's root (shared volume). */
export class FileSweepLock implements SweepLock {
  private readonly file: string;
  private readonly leaseMs: number;

  constructor(storeRoot: string, leaseMs = SWEEP_LEASE_MS) {
    this.file = path.join(storeRoot, 'eviction.lock');
    this.leaseMs = leaseMs;
  }

  async tryAcquire(): Promise<SweepLease | undefined> {
    const token = randomUUID();
    if (!(await this.create(token))) {
      const info = await stat(this.file).catch(() => undefined);
      // Its holder stopped renewing it: it died mid-sweep.
      if (info && Date.now() - info.mtimeMs < this.leaseMs) return undefined;
      await rm(this.file, { force: true });
      if (!(await this.create(token))) return undefined;
    }
    const mine = async (): Promise<boolean> => (await readFile(this.file, 'utf8').catch(() => '')) === token;
    return new RenewedLease(
      async () => {
        if (!(await mine())) return false;
        await utimes(this.file, new Date(), new Date());
        return true;
      },
      async () => {
        if (await mine()) await rm(this.file, { force: true });
      },
      this.leaseMs,
    );
  }

  async close(): Promise<void> {}

  private async create(token: string): Promise<boolean> {
    try {
      const handle = await open(this.file, 'wx');
      await handle.writeFile(token);
      await handle.close();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  }
}

/** The replicas' shared Redis lease; the lock file while Redis is unreachable. */
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
      // Eviction keeps the disk from filling, so it must not stop with Redis: fall back to the volume.
      this.log.warn({ err: error }, 'eviction lock: redis unavailable, using the lock file');
      return this.fallback.tryAcquire();
    }
  }

  async close(): Promise<void> {
    // The replica locks belong to whoever made them (the app, or the gc command).
  }
}
