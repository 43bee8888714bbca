// Prometheus scrape endpoint, in the text exposition format prom-client renders. A worker of several
// (`workers: N`) answers with every worker's metrics, merged by the primary (src/workers/cluster-metrics.ts).

import cluster from 'node:cluster';
import type { FastifyInstance } from 'fastify';
import { workerMetrics } from '../workers/cluster-metrics.ts';

export async function metricsEndpoint(app: FastifyInstance): Promise<void> {
  const { metrics } = app.mirror;
  const index = process.env.PULLTHROUGH_WORKER_INDEX;
  const render = cluster.isWorker && index !== undefined ? workerMetrics(metrics.registry, index) : () => metrics.render();
  app.get('/metrics', async (_request, reply) => {
    return reply.type(metrics.registry.contentType).header('cache-control', 'no-store').send(await render());
  });
}
