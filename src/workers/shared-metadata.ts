// Workers need a metadata store they can all write (issue 11): Redis, or an embedded store that several
// processes can share. The embedded metadata log (src/metadata/file-log-store.ts) has one owner, so until
// it is replaced, `workers` above 1 without Redis is refused at start with this reason, instead of
// workers that would overwrite each other's tags.

import { type Config, ConfigError } from '../config.ts';
import { usesRedis } from '../metadata/redis-connection.ts';
import { workerCount } from './worker-count.ts';

export function refuseWorkersWithoutSharedMetadata(config: Config): void {
  if (workerCount(config.workers) <= 1 || usesRedis(config)) return;
  throw new ConfigError('workers', [
    `workers: ${String(config.workers)} needs metadata.redis: the embedded metadata log (${config.storage.path}/metadata.log) has a single owner and cannot be shared by several processes; set metadata.redis or workers: 1`,
  ]);
}
