// The mirror's shared services, built once per app and decorated onto the instance as `app.mirror`,
// so route plugins take what they need from there and tests can hand in their own Keyv or logger.

import fp from 'fastify-plugin';
import type Keyv from 'keyv';
import type { Config } from '../config.ts';
import { BlobCache } from '../cache/blob-cache.ts';
import { ContentProvenance } from '../cache/content-provenance.ts';
import { ManifestCache } from '../cache/manifest-cache.ts';
import { MetadataStore } from '../metadata/metadata-store.ts';
import { openKeyv } from '../metadata/open-keyv.ts';
import { openReplicaLocks, type ReplicaLocks } from '../replicas/replica-locks.ts';
import { usesRedis } from '../metadata/redis-connection.ts';
import { runsAsWorkers } from '../workers/worker-count.ts';
import { workerShare } from '../workers/worker-share.ts';
import { Evictor } from '../eviction/evictor.ts';
import { openEviction } from '../eviction/open-eviction.ts';
import { keyvLastUse } from '../eviction/persisted-access.ts';
import { UpstreamRouter } from '../routing.ts';
import { BlobFills } from '../storage/blob-fill.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { openBlobStore } from '../storage/open-blob-store.ts';
import { ManifestMemo } from './manifest-memo.ts';
import { CacheSizeScanner } from '../observability/cache-size.ts';
import { MeteredRegistryClient } from '../observability/metered-registry-client.ts';
import { MirrorMetrics } from '../observability/mirror-metrics.ts';
import { observeBlobStore } from '../observability/observed-blob-store.ts';
import { PersistedStats } from '../observability/persisted-stats.ts';
import { processCounts } from '../observability/status-summary.ts';
import { storageCap } from '../observability/storage-cap.ts';
import type { RegistryClient } from '../upstream/registry-client.ts';
import { QuotaPolicy } from '../cache/quota-policy.ts';
import { QuotaView } from '../upstream/quota-view.ts';

export interface MirrorServices {
  config: Config;
  router: UpstreamRouter;
  store: BlobStore;
  fills: BlobFills;
  metadata: MetadataStore;
  manifests: ManifestCache;
  /** Which upstreams kept digests came from, and whether a route may serve them (issue 9). */
  provenance: ContentProvenance;
  blobs: BlobCache;
  clients: ReadonlyMap<string, RegistryClient>;
  clientFor(upstream: string): RegistryClient;
  metrics: MirrorMetrics;
  cacheSize: CacheSizeScanner;
  /** Keeps the store under storage.maxSize / maxAge; records what is served. */
  eviction: Evictor;
  /** Each upstream's pull quota, shared by replicas, and how it is spent (issue 15). */
  quota: QuotaPolicy;
}

export interface MirrorServicesOptions {
  config: Config;
  /** A Keyv to use instead of the configured one (tests hand in an in-memory one). */
  keyv?: Keyv;
  /** A blob store to use instead of the configured one (tests hand in a MemoryBlobStore). */
  store?: BlobStore;
}

declare module 'fastify' {
  interface FastifyInstance {
    mirror: MirrorServices;
  }
}

export const mirrorServices = fp<MirrorServicesOptions>(
  async (app, { config, keyv, store: givenStore }) => {
    const log = app.log;
    // With Redis, several replicas may share this store; with `workers`, several processes on this host
    // do (issue 11). Either way start-up leaves their writes in flight alone, and leases pick who fetches
    // what (src/replicas/): Redis ones, or without Redis the store's lock files.
    const workers = runsAsWorkers(config);
    const keptStore = givenStore ?? (await openBlobStore(config, { sharedWithReplicas: usesRedis(config) || workers }));
    const locks: ReplicaLocks = openReplicaLocks(config.metadata, log, workers ? keptStore : undefined);
    const cacheSize = new CacheSizeScanner(keptStore);
    // Every part of the mirror keeps and removes through this view, so the cache size follows at once.
    const store = observeBlobStore(keptStore, cacheSize);
    const metadataKeyv = keyv ?? (await openKeyv(config, log, store));
    const metadata = new MetadataStore(metadataKeyv, log, { tagRecordTtl: config.metadata.tagRecordTtl });
    const metrics = new MirrorMetrics();
    const quotaView = new QuotaView({ get: (key) => metadata.getQuota(key), set: (key, record, ttl) => metadata.setQuota(key, record, ttl) });
    const quota = new QuotaPolicy({ view: quotaView, log, onHeld: metrics.quotaHeld });
    const clients = new Map<string, RegistryClient>();
    for (const upstream of Object.values(config.upstreams)) {
      clients.set(
        upstream.name,
        new MeteredRegistryClient(upstream, {
          connectTimeoutMs: config.upstreamTimeouts.connect,
          idleTimeoutMs: config.upstreamTimeouts.idle,
          minBytesPerSecond: config.upstreamTimeouts.minRate,
          logger: log,
          onResponse: metrics.upstreamResponse,
          quota: quotaView,
          // Replicas share tokens through Redis, workers through the embedded store too: one token
          // request per scope for the whole fleet.
          ...((usesRedis(config) || workers) && {
            sharedTokens: {
              get: (scope) => metadata.getToken(upstream.name, scope),
              set: (scope, token) => metadata.setToken(upstream.name, scope, token),
            },
          }),
        }).meter(metrics),
      );
    }
    const clientFor = (name: string): RegistryClient => {
      const client = clients.get(name);
      if (!client) throw new Error(`no client for upstream ${name}`);
      return client;
    };
    cacheSize.start();
    const manifestMemo = new ManifestMemo(store);
    const eviction = openEviction(config, store, log, locks, {
      metrics,
      // The status page and /metrics show the size right after a sweep, not minutes later.
      onSwept: () => void cacheSize.refresh(),
      // A removed digest's manifest records and origins go with it (issue 9: metadata must not grow for ever,
      // and a record must not outlive the content it describes), and so do its remembered bytes.
      onEvicted: (digest) => {
        manifestMemo.forget(digest);
        return metadata.forgetDigest(digest.text);
      },
      // On S3 the LRU order lives in the metadata store (issue 10), so it survives restarts.
      lastUse: keyvLastUse(metadataKeyv),
    });
    eviction.start();
    // Blobs over limits.maxBlobSize are refused; each fill asks eviction for room first (issue 9).
    const fills = new BlobFills(store, log, { maxBlobSize: config.limits.maxBlobSize, disk: eviction });
    // The page's headline figures, kept in the metadata store across restarts (issue 12, item 15).
    const stats = new PersistedStats({ metadata, locks, current: () => processCounts(metrics), log });
    stats.start();
    metrics.attach({
      stats,
      upstreams: [...clients.keys()],
      quota: (name) => {
        const upstream = config.upstreams[name];
        return upstream ? quota.status(upstream) : Promise.resolve(undefined);
      },
      fillsInFlight: () => fills.inFlight,
      cacheSize,
      maxBytes: storageCap(config),
    });
    const provenance = new ContentProvenance({ config, metadata, clientFor, log });
    app.decorate('mirror', {
      config,
      router: new UpstreamRouter(config),
      store,
      fills,
      metadata,
      manifests: new ManifestCache({
        // Kept manifests from memory: no store round trips per manifest request (./manifest-memo.ts).
        store: manifestMemo.store,
        metadata,
        clientFor,
        locks,
        log,
        quota,
        maxManifestSize: config.limits.maxManifestSize,
        recordOrigin: (upstream, digest) => provenance.recordOrigin(upstream, digest),
      }),
      provenance,
      blobs: new BlobCache({
        store,
        fills,
        clientFor,
        locks,
        log,
        // Each worker holds its share of the fill slots (src/workers/worker-share.ts).
        limits: {
          ...config.limits,
          maxConcurrentFills: workerShare(config.limits.maxConcurrentFills, config.workers),
          maxConcurrentFillsPerClient: workerShare(config.limits.maxConcurrentFillsPerClient, config.workers),
        },
      }),
      clients,
      clientFor,
      metrics,
      cacheSize,
      eviction,
      quota,
    } satisfies MirrorServices);

    app.addHook('onClose', async () => {
      cacheSize.stop();
      await eviction.stop();
      await fills.drain();
      await stats.close();
      await Promise.all([...clients.values()].map((client) => client.close()));
      await quotaView.settled();
      await metadata.close();
      await locks.close();
    });
  },
  { name: 'mirror-services' },
);
