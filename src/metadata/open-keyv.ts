// The Keyv behind the metadata store: Redis when a URL is configured (shared by replicas), otherwise an
// embedded append-only file in the storage directory that persists across restarts, so `npm start`
// needs nothing else running.

import path from 'node:path';
import Keyv from 'keyv';
import KeyvRedis, { createClient } from '@keyv/redis';
import type { Logger } from '../logger.ts';
import type { Config } from '../config.ts';
import { FileLogStore } from './file-log-store.ts';

const NAMESPACE = 'pullthrough';

export async function openKeyv(config: Config, log: Logger): Promise<Keyv> {
  const url = config.metadata.redis;
  if (url) {
    // No offline queue: while Redis is away, commands fail at once (and the mirror carries on from its
    // blob store) instead of piling up; the client keeps reconnecting in the background.
    const client = createClient({
      url,
      disableOfflineQueue: true,
      socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) },
    });
    client.on('error', (error: unknown) => log.warn({ err: error }, 'redis connection error'));
    const store = new KeyvRedis(client, { throwOnConnectError: false, namespace: NAMESPACE });
    return new Keyv({ store, namespace: NAMESPACE, useKeyPrefix: false });
  }
  const file = path.join(config.storage.path, 'metadata.log');
  const store = await FileLogStore.open(file, { onWarning: (message) => log.warn({ file }, message) });
  return new Keyv({ store, namespace: NAMESPACE });
}
