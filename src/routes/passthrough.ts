// tags/list and referrers are listings that change all the time and are cheap for upstreams, so they are
// passed through verbatim with @fastify/reply-from, authenticated as the mirror, never cached.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/reply-from';
import { RegistryError } from '../errors.ts';
import type { RouteTarget } from '../routing.ts';
import { USER_AGENT, type RegistryClient } from '../upstream/registry-client.ts';

/** Query parameters each listing accepts (OCI distribution-spec): nothing else is forwarded. */
const FORWARDED_QUERY = { tags: ['n', 'last'], referrers: ['artifactType'] } as const;

/** Response headers that speak of the upstream's own auth or session, not the mirror's. */
const DROPPED_HEADERS = new Set(['www-authenticate', 'set-cookie', 'connection', 'keep-alive', 'transfer-encoding']);

export async function passThrough(
  request: FastifyRequest,
  reply: FastifyReply,
  options: { client: RegistryClient; target: RouteTarget; kind: 'tags' | 'referrers'; upstreamPath: string; clientPath: string },
): Promise<FastifyReply> {
  const { client, target, kind, upstreamPath, clientPath } = options;
  const authorization = await client.authorizationHeader(target.repository);
  const incoming = new URL(request.url, 'http://mirror.invalid');
  const query = new URLSearchParams();
  for (const key of FORWARDED_QUERY[kind]) {
    const value = incoming.searchParams.get(key);
    if (value !== null) query.set(key, value);
  }
  const search = query.size > 0 ? `?${query.toString()}` : '';
  const upstreamBase = upstreamPath.replace(/\/(tags\/list|referrers\/[^/]+)$/, '');
  const clientBase = clientPath.replace(/\/(tags\/list|referrers\/[^/]+)$/, '');

  return reply.from(`${target.upstream.url}${upstreamPath}${search}`, {
    rewriteRequestHeaders: () => {
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, accept: request.headers.accept ?? 'application/json' };
      if (authorization) headers.authorization = authorization;
      return headers;
    },
    rewriteHeaders: (headers) => {
      const kept: Record<string, string | string[] | undefined> = {};
      for (const [name, value] of Object.entries(headers)) {
        if (!DROPPED_HEADERS.has(name.toLowerCase())) kept[name] = value;
      }
      // Pagination links name the upstream's path; point them at the path the client used.
      const link = kept.link;
      if (typeof link === 'string') kept.link = link.split(`<${upstreamBase}/`).join(`<${clientBase}/`);
      return kept;
    },
    onResponse: (_request, replyOut, response) => {
      if (response.statusCode === 401 || response.statusCode === 404) {
        response.stream.resume();
        replyOut.send(new RegistryError('NAME_UNKNOWN', undefined, { upstreamStatus: response.statusCode }));
        return;
      }
      replyOut.send(response.stream);
    },
    onError: (replyOut, { error }) => {
      request.log.warn({ err: error }, 'upstream passthrough failed');
      replyOut.send(new RegistryError('UNAVAILABLE', `upstream ${target.upstream.name} unreachable`));
    },
  });
}
