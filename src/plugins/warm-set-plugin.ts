// Wires the pinned warm set (config `prefetch:`, issue 13) into the app: built from the mirror's own
// caches, started once the app is ready (in the background: nothing waits for an upstream), its digests
// kept out of eviction, its metrics on /metrics, stopped on close.

import fp from 'fastify-plugin';
import { WarmSet } from '../prefetch/warm-set.ts';
import { openReplicaLocks } from '../replicas/replica-locks.ts';
import { runsAsWorkers } from '../workers/worker-count.ts';

declare module 'fastify' {
  interface FastifyInstance {
    warmSet: WarmSet;
  }
}

export const warmSetPlugin = fp(
  async (app) => {
    const { config, router, manifests, blobs, provenance, quota, eviction, metrics, store } = app.mirror;
    // Its own leases: the refresh cycle's lease lives as long as a cycle, beside the fills' ones. Workers
    // without Redis meet at the store's lock files, so one worker at a time runs a cycle (issue 11).
    const locks = openReplicaLocks(config.metadata, app.log, runsAsWorkers(config) ? store : undefined);
    const warmSet = new WarmSet({
      entries: config.prefetch,
      router,
      manifests,
      blobs,
      provenance,
      quota,
      locks,
      log: app.log.child({ component: 'warm-set' }),
      registry: metrics.registry,
    });
    eviction.keep(() => warmSet.pinned());
    app.decorate('warmSet', warmSet);
    app.addHook('onReady', async () => warmSet.start());
    app.addHook('onClose', async () => {
      await warmSet.stop();
      await locks.close();
    });
  },
  { name: 'warm-set', dependencies: ['mirror-services'] },
);
