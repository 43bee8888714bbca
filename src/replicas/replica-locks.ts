// Leases that make several replicas behave as one mirror: whoever holds `fill:<digest>` is the one
// replica fetching that blob from upstream; the others follow its write in flight. A lease is renewed
// while its holder works; if the holder dies, it expires within LEASE_MS and another replica takes over.
//
// Without Redis and with one process, its in-process single flight already covers everything: every
// lease is granted at once. Workers on one host without Redis meet at the store's lock files instead
// (store-locks.ts). With Redis unreachable, leases are granted too (fail open): two replicas may
// then fetch the same thing twice, which costs an upstream request but never fails a pull.

import { randomUUID } from 'node:crypto';
import type { Lease } from '../leases/lease.ts';
import type { Logger } from '../logger.ts';
import { createRedisConnection, hasRedis, type RedisConnection, type RedisSettings } from '../metadata/redis-connection.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { StoreLocks } from './store-locks.ts';

export type { Lease } from '../leases/lease.ts';

/** A dead holder's lease runs out after this long; a live one renews it every third of it. */
export const LEASE_MS = 6_000;
const INFO_SUFFIX = ':info';

/** The name in braces is the hash tag: a lease and its note live in one Redis Cluster slot, as Lua needs. */
function leaseKey(name: string): string {
  return `pullthrough:lease:{${name}}`;
}


export interface LeaseOptions {
  /** Lease length; renewed every third of it. */
  leaseMs?: number;
  /**
   * With Redis unreachable: 'grant' (default) goes ahead, as for fills, where a duplicate fetch is the
   * only cost; 'throw' lets the caller fall back to another lock.
   */
  whenUnavailable?: 'grant' | 'throw';
}

export interface ReplicaLocks {
  readonly replicaId: string;
  /** Undefined when another live replica holds the lease. */
  tryAcquire(name: string, options?: LeaseOptions): Promise<Lease | undefined>;
  /** Whether some replica holds the lease, and what it published. */
  peek(name: string): Promise<{ held: boolean; info: string | undefined }>;
  close(): Promise<void>;
}

const GRANTED: Lease = { lost: false, publish: async () => undefined, release: async () => undefined };

export class LocalLocks implements ReplicaLocks {
  readonly replicaId = randomUUID();
  async tryAcquire(): Promise<Lease> {
    return GRANTED;
  }
  async peek(): Promise<{ held: boolean; info: string | undefined }> {
    return { held: false, info: undefined };
  }
  async close(): Promise<void> {}
}

// Renew and release only a lease that is still ours (a slow holder must not extend or delete the lease
// a takeover replica has since acquired).
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[2], ARGV[2]); return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[2]); return redis.call('DEL', KEYS[1]) else return 0 end`;
const PUBLISH = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) else return 0 end`;

export class RedisLocks implements ReplicaLocks {
  readonly replicaId = randomUUID();
  /** Set once the connection is made (the Redis client module loads first); ready() waits for it. */
  private client: RedisConnection['commands'] | undefined;
  private readonly log: Logger;
  /** Settles once the client exists (its module loaded), before it has connected. */
  private readonly made: Promise<void>;
  private readonly connecting: Promise<unknown>;
  private connected = false;
  private closed = false;

  constructor(connection: Promise<RedisConnection | undefined>, log: Logger) {
    this.log = log;
    this.made = connection.then(
      (made) => {
        // Closed while the client module was still loading: never connect.
        if (made !== undefined && this.closed) made.commands.destroy();
        else this.client = made?.commands;
      },
      (error: unknown) => log.warn({ err: error }, 'redis client could not be made'),
    );
    this.connecting = this.made
      .then(async () => {
        if (this.client === undefined) return;
        await this.client.connect();
        this.connected = true;
      })
      .catch((error: unknown) => log.warn({ err: error }, 'redis (leases) not reachable'));
  }

  async tryAcquire(name: string, options: LeaseOptions = {}): Promise<Lease | undefined> {
    const { leaseMs = LEASE_MS, whenUnavailable = 'grant' } = options;
    const key = leaseKey(name);
    const token = `${this.replicaId}:${randomUUID()}`;
    let client: RedisConnection['commands'];
    try {
      client = await this.ready();
      const answer = await client.set(key, token, { condition: 'NX', expiration: { type: 'PX', value: leaseMs } });
      if (answer !== 'OK') return undefined;
    } catch (error) {
      if (whenUnavailable === 'throw') throw error;
      this.log.warn({ err: error, lease: name }, 'lease not checked (redis unavailable), going ahead');
      return GRANTED;
    }
    const keys = [key, key + INFO_SUFFIX];
    let lost = false;
    const renewal = setInterval(() => {
      client.eval(RENEW, { keys, arguments: [token, String(leaseMs)] }).then(
        (renewed) => (lost ||= Number(renewed) !== 1),
        () => (lost = true),
      );
    }, leaseMs / 3);
    renewal.unref();
    return {
      get lost() {
        return lost;
      },
      publish: async (info) => {
        await client.eval(PUBLISH, { keys, arguments: [token, info, String(leaseMs)] }).catch(() => undefined);
      },
      release: async () => {
        clearInterval(renewal);
        await client.eval(RELEASE, { keys, arguments: [token] }).catch(() => undefined);
      },
    };
  }

  async peek(name: string): Promise<{ held: boolean; info: string | undefined }> {
    const key = leaseKey(name);
    try {
      const client = await this.ready();
      const [holder, info] = await Promise.all([client.get(key), client.get(key + INFO_SUFFIX)]);
      return { held: holder !== null, info: info ?? undefined };
    } catch {
      return { held: false, info: undefined };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    // A client still trying to reach Redis would never finish a graceful close.
    if (this.client === undefined) return;
    if (this.connected) await this.client.close().catch(() => undefined);
    else await Promise.resolve(this.client.destroy()).catch(() => undefined);
  }

  private async ready(): Promise<RedisConnection['commands']> {
    // The second is for Redis to answer; loading the client module (once per process) is not counted in it.
    await this.made;
    if (!this.connected) await Promise.race([this.connecting, new Promise((resolve) => setTimeout(resolve, 1000))]);
    if (!this.connected || this.client === undefined) throw new Error('redis not ready');
    return this.client;
  }
}

/**
 * Leases in the configured Redis deployment. Without Redis: lock files of the store when other processes
 * on this host share it (`sharedStore`: workers, issue 11), else in-process ones.
 */
export function openReplicaLocks(metadata: RedisSettings, log: Logger, sharedStore?: Pick<BlobStore, 'notedLock'>): ReplicaLocks {
  if (hasRedis(metadata)) return new RedisLocks(createRedisConnection(metadata, log, 'leases'), log);
  const notedLock = sharedStore?.notedLock?.bind(sharedStore);
  return notedLock ? new StoreLocks(notedLock, log) : new LocalLocks();
}
