// Requests refused by an upstream's allow/deny rules (issue 13, item 2), counted per upstream for the
// status page and /metrics: a denied repository costs no upstream request, and this shows how many there were.

import fp from 'fastify-plugin';
import { Counter } from 'prom-client';
import { RepositoryDeniedError } from '../repository-rules.ts';

declare module 'fastify' {
  interface FastifyInstance {
    deniedRequests: Counter<'upstream'>;
  }
}

export const deniedRequests = fp(
  async (app) => {
    const counter = new Counter({
      name: 'pullthrough_denied_requests_total',
      help: 'Requests answered 403 DENIED by an upstream allow/deny rule (no upstream request made)',
      labelNames: ['upstream'] as const,
      registers: [app.mirror.metrics.registry],
    });
    for (const upstream of Object.keys(app.mirror.config.upstreams)) counter.inc({ upstream }, 0);
    app.decorate('deniedRequests', counter);
    // Registered before the routes, so every route plugin inherits the hook.
    app.addHook('onError', async (_request, _reply, error) => {
      if (error instanceof RepositoryDeniedError) counter.inc({ upstream: error.upstream });
    });
  },
  { name: 'denied-requests', dependencies: ['mirror-services'] },
);

/** All denied requests since start. */
export async function deniedTotal(counter: Counter<'upstream'>): Promise<number> {
  return (await counter.get()).values.reduce((sum, v) => sum + v.value, 0);
}
