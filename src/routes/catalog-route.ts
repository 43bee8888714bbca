// GET /v2/_catalog (issue 12, item 12): the repositories this mirror has cached, not the upstreams'
// catalogs (Docker Hub has none to offer). Paginated as the distribution spec says ("Listing
// Repositories"): `n` results at most, those lexically after `last`, and a `Link: <...>; rel="next"`
// header while more remain. Under a mirror prefix (/<alias>/v2/_catalog) it lists that upstream's
// repositories, named as that route addresses them.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { mayPull } from '../auth/pull-policy.ts';
import { cachedRepositories } from '../cache/cached-catalog.ts';
import { RegistryError } from '../errors.ts';

/** Page size when the client names none, and the most it may ask for. */
const MAX_PAGE = 1000;

export async function serveCatalog(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, prefix: string | undefined): Promise<FastifyReply> {
  const { config, metadata, router } = app.mirror;
  const query = new URLSearchParams(request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '');
  const n = pageSize(query.get('n'));
  const last = query.get('last') ?? '';
  const only = prefix === undefined ? undefined : router.lookup(prefix);
  if (prefix !== undefined && !only) throw new RegistryError('NAME_UNKNOWN', `no upstream is configured for prefix "${prefix}"`);
  const repositories = await cachedRepositories(config, metadata, (upstream) => (only === undefined || upstream === only) && mayPull(request, upstream));
  const names = repositories.map((r) => (only ? r.repository : r.name)).sort();
  const after = names.filter((name) => name > last);
  const page = after.slice(0, n);
  if (after.length > page.length && page.length > 0) {
    const base = prefix === undefined ? '/v2/_catalog' : `/${prefix}/v2/_catalog`;
    reply.header('link', `<${base}?${new URLSearchParams({ last: page[page.length - 1] as string, n: String(n) }).toString()}>; rel="next"`);
  }
  return reply.type('application/json').header('cache-control', 'no-store').send({ repositories: page });
}

function pageSize(raw: string | null): number {
  if (raw === null || raw === '') return MAX_PAGE;
  if (!/^\d{1,9}$/.test(raw)) throw new RegistryError('PAGINATION_NUMBER_INVALID', undefined, { detail: { n: raw } });
  return Math.min(Number(raw), MAX_PAGE);
}
