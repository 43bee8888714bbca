// The Keyv behind the metadata store: Redis when a URL is configured (shared by replicas), otherwise an
// embedded append-only file in the storage directory that persists across restarts, so `npm start`
// needs nothing else running.

import path from 'node:path';
import Keyv from 'keyv';
import type { Logger } from '../logger.ts';
import type { Config } from '../config.ts';
import { FileLogStore } from './file-log-store.ts';
import { createRedisConnection } from './redis-connection.ts';

const NAMESPACE = 'pullthrough';

export async function openKeyv(config: Config, log: Logger): Promise<Keyv> {
  const redis = createRedisConnection(config.metadata, log, 'metadata');
  if (redis) return new Keyv({ store: redis.keyvStore(NAMESPACE), namespace: NAMESPACE, useKeyPrefix: false });
  const file = path.join(config.storage.path, 'metadata.log');
  const store = await FileLogStore.open(file, { onWarning: (message) => log.warn({ file }, message) });
  return new Keyv({ store, namespace: NAMESPACE });
}
