// Prometheus scrape endpoint, in the text exposition format prom-client renders.

import type { FastifyInstance } from 'fastify';

export async function metricsEndpoint(app: FastifyInstance): Promise<void> {
  app.get('/metrics', async (_request, reply) => {
    const { metrics } = app.mirror;
    return reply.type(metrics.registry.contentType).header('cache-control', 'no-store').send(await metrics.render());
  });
}
