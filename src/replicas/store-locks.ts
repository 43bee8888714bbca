// Leases for workers on one host that share no Redis (issue 11, `workers: N` with the embedded metadata):
// the same names and notes as the Redis leases (replica-locks.ts), kept as lock files the blob store hands
// out (BlobStore.notedLock). So the fill lease picks one worker to download a blob while the others follow
// its temp file, and once-across-replicas, the stats slots and the warm set's cycle work across workers as
// they do across replicas.
//
// A lock-file error (disk full, permissions) is treated as Redis being unreachable is: the fill goes ahead
// (a duplicate upstream request at worst), or the caller that asked for 'throw' falls back.

import { randomUUID } from 'node:crypto';
import type { Lease, NotedLock } from '../leases/lease.ts';
import type { Logger } from '../logger.ts';
import { LEASE_MS, type LeaseOptions, type ReplicaLocks } from './replica-locks.ts';

export type NotedLocks = (name: string, leaseMs: number) => NotedLock;

const GRANTED: Lease = { lost: false, publish: async () => undefined, release: async () => undefined };

export class StoreLocks implements ReplicaLocks {
  readonly replicaId = randomUUID();
  private readonly locks: NotedLocks;
  private readonly log: Logger;

  constructor(locks: NotedLocks, log: Logger) {
    this.locks = locks;
    this.log = log;
  }

  async tryAcquire(name: string, options: LeaseOptions = {}): Promise<Lease | undefined> {
    const { leaseMs = LEASE_MS, whenUnavailable = 'grant' } = options;
    try {
      return await this.locks(name, leaseMs).tryAcquire();
    } catch (error) {
      if (whenUnavailable === 'throw') throw error;
      this.log.warn({ err: error, lease: name }, 'lease not checked (lock file unusable), going ahead');
      return GRANTED;
    }
  }

  async peek(name: string): Promise<{ held: boolean; info: string | undefined }> {
    // The lease length only matters to holders; a peek reads what the holder renews.
    return this.locks(name, LEASE_MS).peek().catch(() => ({ held: false, info: undefined }));
  }

  async close(): Promise<void> {}
}
