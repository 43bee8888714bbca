// One sweeper at a time, across every process that shares the store: the replicas of issue 6 and a
// `pullthrough gc` run next to a server. Two sweepers would not endanger readers (the grace period does
// that), but each would free the cap's worth of bytes, evicting far more than needed.
//
// With Redis configured the lock is a Redis key with a lease (SET NX PX), renewed while the sweep runs,
// so a sweeper that dies frees it within the lease. Without Redis (or while Redis is unreachable) it is a
// lock file with a lease beside the blobs on the shared volume: exclusive create, renewed by touching it,
// taken over once it is older than the lease. A crash during a sweep therefore never blocks eviction for
// longer than one lease. The in-process part (one sweep per app) is the Evictor's single flight.

import { randomUUID } from 'node:crypto';
import { open, readFile, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { createClient } from '@keyv/redis';
import type { Logger } from '../logger.ts';

export const SWEEP_LEASE_MS = 60_000;
export const SWEEP_LOCK_KEY = 'pullthrough:eviction:sweeper';

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

// Renew and release only a lease that is still ours: a sweeper that stalled past its lease must not
// extend or delete the lease another one has taken since.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

type RedisClient = ReturnType<typeof createClient>;

/** A Redis key with a lease, in the Redis the metadata uses; the file lock while Redis is unreachable. */
export class RedisSweepLock implements SweepLock {
  private readonly client: RedisClient;
  private readonly log: Logger;
  private readonly fallback: SweepLock;
  private readonly leaseMs: number;
  private readonly connecting: Promise<unknown>;
  private readonly key: string;

  constructor(url: string, fallback: SweepLock, log: Logger, options: { leaseMs?: number; key?: string } = {}) {
    const { leaseMs = SWEEP_LEASE_MS, key = SWEEP_LOCK_KEY } = options;
    this.key = key;
    this.log = log;
    this.fallback = fallback;
    this.leaseMs = leaseMs;
    this.client = createClient({
      url,
      disableOfflineQueue: true,
      socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) },
    });
    this.client.on('error', (error: unknown) => log.debug({ err: error }, 'redis (eviction lock) connection error'));
    this.connecting = this.client.connect().catch((error: unknown) => log.warn({ err: error }, 'redis (eviction lock) not reachable'));
  }

  async tryAcquire(): Promise<SweepLease | undefined> {
    const token = randomUUID();
    try {
      await this.ready();
      const answer = await this.client.set(this.key, token, { condition: 'NX', expiration: { type: 'PX', value: this.leaseMs } });
      if (answer !== 'OK') return undefined;
    } catch (error) {
      // Eviction keeps the disk from filling, so it must not stop with Redis: fall back to the volume.
      this.log.warn({ err: error }, 'eviction lock: redis unavailable, using the lock file');
      return this.fallback.tryAcquire();
    }
    return new RenewedLease(
      async () => Number(await this.client.eval(RENEW, { keys: [this.key], arguments: [token, String(this.leaseMs)] })) === 1,
      async () => {
        await this.client.eval(RELEASE, { keys: [this.key], arguments: [token] });
      },
      this.leaseMs,
    );
  }

  async close(): Promise<void> {
    // A client still trying to reach Redis would never finish a graceful close.
    if (this.client.isReady) await this.client.close().catch(() => undefined);
    else if (this.client.isOpen) this.client.destroy();
  }

  private async ready(): Promise<void> {
    if (this.client.isReady) return;
    await Promise.race([this.connecting, new Promise((resolve) => setTimeout(resolve, 1000))]);
    if (!this.client.isReady) throw new Error('redis not ready');
  }
}
