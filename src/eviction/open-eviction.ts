// Builds the eviction service from the config, for the server (wired in mirror-services.ts) and for the
// CLI's `gc`, so both sweep with the same limits and the same lock.

import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { AccessRecorder } from './access-recorder.ts';
import { type EvictorOptions, Evictor } from './evictor.ts';
import type { ReplicaLocks } from '../replicas/replica-locks.ts';
import { usesRedis } from '../metadata/redis-connection.ts';
import { PersistedAccessStore, type LastUseRecords } from './persisted-access.ts';
import { LeasedSweepLock, SWEEP_LEASE_MS, type SweepLock } from './sweep-lock.ts';

/** A served blob's mtime is refreshed at most this often (and always well within the grace period). */
const MAX_TOUCH_INTERVAL_MS = 60_000;

export function openEviction(
  config: Config,
  store: BlobStore,
  log: Logger,
  locks: ReplicaLocks,
  extra: Pick<EvictorOptions, 'metrics' | 'onSwept' | 'onEvicted'> & {
    intervalMs?: number;
    /**
     * Last uses in the metadata store. Used when the store cannot keep them itself (S3: an object's
     * mtime is its commit time), so the LRU order survives a restart and is shared by replicas (issue 10).
     */
    lastUse?: LastUseRecords;
  } = {},
): Evictor {
  const { maxSize, maxAge, evictionGrace, evictionInterval } = config.storage;
  const storeLock = store.lock('eviction', SWEEP_LEASE_MS);
  // Without Redis the in-process locks grant everything, so processes sharing the store (a `gc` beside
  // the server) meet at the store's lock instead.
  const lock: SweepLock = usesRedis(config) ? new LeasedSweepLock(locks, storeLock, log) : storeLock;
  const view = config.storage.s3 && extra.lastUse ? new PersistedAccessStore(store, extra.lastUse, log) : store;
  return new Evictor({
    store: view,
    log,
    lock,
    maxBytes: maxSize,
    maxAgeMs: maxAge,
    graceMs: evictionGrace,
    intervalMs: extra.intervalMs ?? evictionInterval,
    access: new AccessRecorder(view, log, { throttleMs: Math.min(MAX_TOUCH_INTERVAL_MS, evictionGrace / 4) }),
    ...(extra.metrics && { metrics: extra.metrics }),
    ...(extra.onEvicted && { onEvicted: extra.onEvicted }),
    ...(extra.onSwept && { onSwept: extra.onSwept }),
  });
}
