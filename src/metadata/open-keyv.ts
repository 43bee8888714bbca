// The Keyv behind the metadata store: Redis when a URL is configured (shared by replicas), otherwise an
// embedded append-only file where the blob store keeps local state (BlobStore.embeddedMetadataPath: the
// storage directory for the filesystem store) that persists across restarts, so `npm start` needs nothing
// else running. A store with no such place (the in-memory one of tests) gets in-memory metadata too.

import Keyv from 'keyv';
import type { Logger } from '../logger.ts';
import type { Config } from '../config.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { FileLogStore } from './file-log-store.ts';
import { createRedisConnection, usesRedis } from './redis-connection.ts';

const NAMESPACE = 'pullthrough';

export async function openKeyv(config: Config, log: Logger, blobs: Pick<BlobStore, 'embeddedMetadataPath'>): Promise<Keyv> {
  const redis = createRedisConnection(config.metadata, log, 'metadata');
  if (redis) return new Keyv({ store: redis.keyvStore(NAMESPACE), namespace: NAMESPACE, useKeyPrefix: false });
  const file = blobs.embeddedMetadataPath();
  if (file === undefined) return new Keyv({ namespace: NAMESPACE });
  const store = await FileLogStore.open(file, { onWarning: (message) => log.warn({ file }, message) });
  return new Keyv({ store, namespace: NAMESPACE });
}

/**
 * The metadata as another process reads it while a mirror runs (`pullthrough ls`): Redis as the servers
 * use it; the embedded log read once into memory, never written, since one process owns that file
 * (file-log-store.ts).
 */
export async function openKeyvForReading(config: Config, log: Logger, blobs: Pick<BlobStore, 'embeddedMetadataPath'>): Promise<Keyv> {
  const file = blobs.embeddedMetadataPath();
  if (usesRedis(config) || file === undefined) return openKeyv(config, log, blobs);
  return new Keyv({ store: await FileLogStore.readLive(file), namespace: NAMESPACE });
}
