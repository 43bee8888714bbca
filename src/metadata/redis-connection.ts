// The Redis deployments users run — one server by URL, Sentinel, or Cluster — behind one factory, used by
// the metadata store (Keyv) and by the replicas' leases. Every connection fails fast while Redis is away
// (no offline queue) and keeps reconnecting in the background, so the mirror carries on from its blob
// store instead of queueing requests behind Redis.
//
// The client module is loaded only when Redis is configured: a mirror on the embedded metadata never needs
// it, and loading it costs ~8 MiB of resident memory (issue 11: the memory row).

import type KeyvRedis from '@keyv/redis';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';

/** What the project asks of any of the three client kinds. */
interface RedisCommands {
  connect(): Promise<unknown>;
  set(key: string, value: string, options: { condition: 'NX'; expiration: { type: 'PX'; value: number } }): Promise<string | null>;
  get(key: string): Promise<string | null>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  close(): Promise<void>;
  destroy(): unknown;
  on(event: 'error', listener: (error: unknown) => void): unknown;
}

export interface RedisConnection {
  readonly commands: RedisCommands;
  /** A Keyv store on this connection (@keyv/redis connects it on first use). */
  keyvStore(namespace: string): KeyvRedis<unknown>;
}

const SOCKET = {
  connectTimeout: 2000,
  reconnectStrategy: (retries: number): number => Math.min(100 * 2 ** retries, 2000),
};

/**
 * A fresh copy of SOCKET for each client. The client writes the URL's host and port into the socket options
 * it is given, and @redis/client reuses the command table it builds for a client (~150 ms and ~14 MiB of
 * short-lived heap) only for options that look the same as the last ones: a shared object changed by the
 * first client made the second (the leases') build its own, which grew the heap at every start.
 */
function socketOptions(): typeof SOCKET {
  return { ...SOCKET };
}

/** Where Redis is, if anywhere: the part of `metadata` connections and leases need. */
export type RedisSettings = Pick<Config['metadata'], 'redis' | 'redisCluster' | 'redisSentinel'>;

/** Whether metadata (and so leases, tokens) live in Redis: replicas may share this mirror's store. */
export function usesRedis(config: Config): boolean {
  return hasRedis(config.metadata);
}

/** Whether these settings name a Redis deployment (what createRedisConnection needs to make one). */
export function hasRedis(metadata: RedisSettings): boolean {
  return metadata.redis !== undefined || metadata.redisCluster !== undefined || metadata.redisSentinel !== undefined;
}

/** A new, not yet connected client for the configured deployment; undefined without Redis. */
export async function createRedisConnection(metadata: RedisSettings, log: Logger, purpose: string): Promise<RedisConnection | undefined> {
  if (!hasRedis(metadata)) return undefined;
  const { default: KeyvRedis, createClient, createCluster, createSentinel } = await import('@keyv/redis');
  const { redis, redisCluster, redisSentinel } = metadata;
  let client: unknown;
  let keyvStore: (namespace: string) => KeyvRedis<unknown>;
  // Failing to connect must not throw from the store: the mirror runs on without metadata meanwhile.
  const storeOptions = (namespace: string) => ({ throwOnConnectError: false, namespace });
  if (redis !== undefined) {
    const single = createClient({ url: redis, disableOfflineQueue: true, socket: socketOptions() });
    client = single;
    keyvStore = (namespace) => new KeyvRedis(single, storeOptions(namespace));
  } else if (redisCluster !== undefined) {
    const cluster = createCluster({
      rootNodes: redisCluster.map((url) => ({ url })),
      defaults: { disableOfflineQueue: true, socket: socketOptions() },
    });
    client = cluster;
    keyvStore = (namespace) => new KeyvRedis(cluster, storeOptions(namespace));
  } else if (redisSentinel !== undefined) {
    const sentinel = createSentinel({
      name: redisSentinel.name,
      sentinelRootNodes: redisSentinel.sentinels.map((node) => {
        const colon = node.lastIndexOf(':');
        return { host: node.slice(0, colon), port: Number(node.slice(colon + 1)) };
      }),
      nodeClientOptions: { disableOfflineQueue: true, socket: socketOptions() },
      sentinelClientOptions: { socket: socketOptions() },
    });
    client = sentinel;
    keyvStore = (namespace) => new KeyvRedis(sentinel, storeOptions(namespace));
  } else {
    return undefined;
  }
  // The three client kinds share these commands; the cast names the part of their API we rely on.
  const commands = client as unknown as RedisCommands;
  commands.on('error', (error) => log.debug({ err: error, purpose }, 'redis connection error'));
  return { commands, keyvStore };
}
