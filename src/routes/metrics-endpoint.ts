// Prometheus scrape endpoint, in the text exposition format prom-client renders. A worker of several
// (`workers: N`) answers with every worker's metrics, merged by the primary (src/workers/cluster-metrics.ts).

import type { FastifyInstance } from 'fastify';
import { workerMetrics } from '../workers/cluster-metrics.ts';
import { workerIndex } from '../workers/worker-count.ts';

export async function metricsEndpoint(app: FastifyInstance): Promise<void> {
  const { metrics } = app.mirror;
  const worker = workerIndex();
  const render = worker === undefined ? () => metrics.render() : workerMetrics(metrics.registry, String(worker));
  app.get('/metrics', async (_request, reply) => {
    return reply.type(metrics.registry.contentType).header('cache-control', 'no-store').send(await render());
  });
}
