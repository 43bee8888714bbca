// Counts every registry API request once it is answered: endpoint kind, cache outcome (set by the
// route on request.registry), status, and the body bytes announced by Content-Length (or, for a blob
// handed to nginx, the bytes nginx is to send). Counting here
// rather than in the handlers keeps the routes free of metrics and sees errors too.

import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { parseRegistryPath } from '../routing.ts';
import '../routes/request-context.ts';
import type { RequestKind, ServedRequest } from './mirror-metrics.ts';

export const requestMetrics = fp(
  async (app) => {
    app.addHook('onResponse', async (request, reply) => {
      const served = describe(request, reply);
      if (served) app.mirror.metrics.request(served);
    });
  },
  { name: 'request-metrics', dependencies: ['mirror-services'] },
);

function describe(request: FastifyRequest, reply: FastifyReply): ServedRequest | undefined {
  const kind = registryKind(request.url);
  if (!kind) return undefined;
  const context = request.registry;
  const ok = reply.statusCode >= 200 && reply.statusCode < 300;
  const length = context?.offloadedBytes ?? Number(reply.getHeader('content-length'));
  const served: ServedRequest = {
    kind,
    method: request.method,
    cache: context?.cache ?? 'none',
    status: reply.statusCode,
    bytes: request.method === 'GET' && ok && Number.isSafeInteger(length) ? length : 0,
  };
  // A pull asks for a manifest by tag once (docker and containerd HEAD it, skopeo and podman GET it);
  // the follow-up requests by digest are the same pull.
  const byTag = context?.reference !== undefined && !context.reference.includes(':');
  if (kind === 'manifest' && ok && byTag && context?.upstream && context.repository) {
    served.pulledImage = `${context.upstream}/${context.repository}`;
  }
  return served;
}

function registryKind(url: string): RequestKind | undefined {
  const queryStart = url.indexOf('?');
  try {
    const kind = parseRegistryPath(queryStart < 0 ? url : url.slice(0, queryStart))?.endpoint.kind;
    return kind === 'upload' ? undefined : kind;
  } catch {
    // Not a valid registry path: answered as an error, nothing to count by kind.
    return undefined;
  }
}
