// The Keyv behind the metadata store: Redis when a URL is configured (shared by replicas), otherwise an
// embedded LMDB database where the blob store keeps local state, shared by every process of this host that
// opens it (the workers of one server, `pullthrough ls` beside them) and persisting across restarts, so
// `npm start` needs nothing else running. A store with no such place (the in-memory one of tests) gets
// in-memory metadata too.
//
// Location: the blob stores name the file of the old embedded log (BlobStore.embeddedMetadataPath,
// `<storage.path>/metadata.log`); the database is the directory `metadata.lmdb` beside it, and the old
// log, when one is there, is imported once and renamed to `metadata.log.migrated` (legacy-log-import.ts).
//
// LMDB (a native module) is loaded only when the embedded store is opened, as the Redis client is only
// with Redis: a process holds the code of one of the two.

import { dirname, join } from 'node:path';
import Keyv from 'keyv';
import type { Logger } from '../logger.ts';
import type { Config } from '../config.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { importLegacyLog, readLegacyLog } from './legacy-log-import.ts';
import { createRedisConnection, usesRedis } from './redis-connection.ts';

const NAMESPACE = 'pullthrough';

/** The embedded database's directory, beside the blob store's legacy log path. */
export function embeddedDatabasePath(legacyLogPath: string): string {
  return join(dirname(legacyLogPath), 'metadata.lmdb');
}

export async function openKeyv(config: Config, log: Logger, blobs: Pick<BlobStore, 'embeddedMetadataPath'>): Promise<Keyv> {
  const redis = await createRedisConnection(config.metadata, log, 'metadata');
  if (redis) return new Keyv({ store: redis.keyvStore(NAMESPACE), namespace: NAMESPACE, useKeyPrefix: false });
  const legacyLog = blobs.embeddedMetadataPath();
  if (legacyLog === undefined) return new Keyv({ namespace: NAMESPACE });
  const path = embeddedDatabasePath(legacyLog);
  const { LmdbStore } = await import('./lmdb-store.ts');
  const store = await LmdbStore.open(path);
  try {
    const result = await importLegacyLog(store, legacyLog, (message) => log.warn({ file: legacyLog }, message));
    if (result.outcome === 'imported') log.info({ from: legacyLog, to: path, entries: result.entries, renamedTo: result.renamedTo }, 'imported the old metadata log into the embedded database');
    else if (result.renamedTo !== undefined) log.warn({ file: legacyLog, renamedTo: result.renamedTo }, 'metadata log found after its import already happened: moved aside, not imported again');
  } catch (error) {
    await store.close();
    throw error;
  }
  return new Keyv({ store, namespace: NAMESPACE });
}

/**
 * The metadata as another process reads it while a mirror runs (`pullthrough ls`): Redis as the servers
 * use it; the live embedded database opened read-only. Where no server of this version has run yet (no
 * database, only an old log) the log is read once into memory, never written, renamed or imported.
 */
export async function openKeyvForReading(config: Config, log: Logger, blobs: Pick<BlobStore, 'embeddedMetadataPath'>): Promise<Keyv> {
  const legacyLog = blobs.embeddedMetadataPath();
  if (usesRedis(config) || legacyLog === undefined) return openKeyv(config, log, blobs);
  try {
    const { LmdbStore } = await import('./lmdb-store.ts');
    return new Keyv({ store: await LmdbStore.open(embeddedDatabasePath(legacyLog), { readOnly: true }), namespace: NAMESPACE });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const entries = (await readLegacyLog(legacyLog, () => undefined)) ?? new Map();
  return new Keyv({ store: new Map([...entries].map(([key, entry]) => [key, entry.value])), namespace: NAMESPACE });
}
