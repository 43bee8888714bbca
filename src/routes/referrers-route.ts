// `GET|HEAD /v2/<name>/referrers/<digest>[?artifactType=...]`, answered from the referrers cache
// (src/cache/referrers-cache.ts, issue 13): always an OCI image index, `OCI-Filters-Applied:
// artifactType` when a filter was applied; a 404 when the upstream has no referrers API.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OCI_INDEX, ReferrersCache } from '../cache/referrers-cache.ts';
import type { MirrorServices } from '../plugins/mirror-services.ts';
import type { Digest } from '../reference.ts';
import type { RouteTarget } from '../routing.ts';
import './request-context.ts';

/** One cache per set of mirror services (one per app), made on first use. */
const caches = new WeakMap<MirrorServices, ReferrersCache>();

function referrersCache(app: FastifyInstance): ReferrersCache {
  let cache = caches.get(app.mirror);
  if (!cache) {
    cache = new ReferrersCache({ metadata: app.mirror.metadata, clientFor: app.mirror.clientFor, log: app.log });
    caches.set(app.mirror, cache);
  }
  return cache;
}

export async function serveReferrers(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  target: RouteTarget,
  subject: Digest,
): Promise<FastifyReply> {
  const queryStart = request.url.indexOf('?');
  // The only parameter the API defines here; an empty one filters nothing.
  const artifactType = queryStart < 0 ? undefined : new URLSearchParams(request.url.slice(queryStart + 1)).get('artifactType') || undefined;
  const answer = await referrersCache(app).resolve(target, subject, artifactType);
  if (request.registry) request.registry.cache = answer.outcome;
  reply.header('content-type', OCI_INDEX).header('content-length', answer.body.length);
  if (answer.filtersApplied) reply.header('oci-filters-applied', 'artifactType');
  if (request.method === 'HEAD') return reply.send();
  return reply.send(answer.body);
}
