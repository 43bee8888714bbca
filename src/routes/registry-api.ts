// The Registry V2 / OCI distribution read API, under /v2/ and under a mirror prefix /<alias>/v2/.
// Handlers only resolve and throw; the app's error handler renders every RegistryError.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { assertMayPull } from '../auth/pull-policy.ts';
import { RegistryError } from '../errors.ts';
import { parseRange } from '../http-range.ts';
import { defaultPlatformManifest, parseAccept } from '../cache/accept-negotiation.ts';
import type { ManifestAnswer } from '../cache/manifest-cache.ts';
import { BACKGROUND_HEADER } from '../cache/quota-policy.ts';
import { isIndexType } from '../manifest-media-types.ts';
import { type Digest, type ManifestReference, parseDigest } from '../reference.ts';
import { assertRepositoryAllowed } from '../repository-rules.ts';
import { parseRegistryPath, type RouteTarget } from '../routing.ts';
import { blobRedirect } from '../storage/blob-redirect.ts';
import { blobOffloadTarget, OFFLOAD_REQUEST_HEADER } from '../storage/blob-offload.ts';
import { serveCatalog } from './catalog-route.ts';
import { passThrough } from './passthrough.ts';
import { serveReferrers } from './referrers-route.ts';
import './request-context.ts';

const READ_METHODS = new Set(['GET', 'HEAD']);
const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

export async function registryApi(app: FastifyInstance): Promise<void> {
  // Refuse writes before Fastify parses their bodies: a push carries manifests and layers whose content
  // types have no parser, and must still get the spec's 405, not a 415 or 413.
  app.addHook('onRequest', async (request, reply) => {
    if (!READ_METHODS.has(request.method)) {
      reply.header('allow', 'GET, HEAD');
      throw new RegistryError('UNSUPPORTED', 'this registry is a read-only mirror');
    }
  });
  for (const url of ['/v2', '/v2/*', '/:prefix/v2', '/:prefix/v2/*']) {
    app.route({ method: [...ALL_METHODS], url, exposeHeadRoute: false, handler: (request, reply) => handle(app, request, reply) });
  }
}

async function handle(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { router, clientFor } = app.mirror;
  const queryStart = request.url.indexOf('?');
  const pathname = queryStart < 0 ? request.url : request.url.slice(0, queryStart);
  const ns = queryStart < 0 ? undefined : new URLSearchParams(request.url.slice(queryStart + 1)).get('ns') ?? undefined;
  const parsed = parseRegistryPath(pathname);
  if (!parsed) throw new RegistryError('NAME_UNKNOWN', 'not a registry API path');
  const { endpoint, prefix } = parsed;

  // Read-only mirror: pushes and deletes are refused before anything else is looked at.
  if (endpoint.kind === 'upload') {
    reply.header('allow', 'GET, HEAD');
    throw new RegistryError('UNSUPPORTED', 'this registry is a read-only mirror');
  }
  reply.header('docker-distribution-api-version', 'registry/2.0');
  if (endpoint.kind === 'ping') {
    if (prefix !== undefined && !router.lookup(prefix)) throw new RegistryError('NAME_UNKNOWN', `no upstream is configured for prefix "${prefix}"`);
    return reply.type('application/json').send('{}');
  }
  if (endpoint.kind === 'catalog') return serveCatalog(app, request, reply, prefix);

  const target = router.route(endpoint.name, { ...(prefix !== undefined && { prefix }), ...(ns !== undefined && { ns }), host: request.host });
  request.registry = { upstream: target.upstream.name, repository: target.repository };
  // Content of an upstream with credentials (private images) only for authenticated clients.
  assertMayPull(request, target.upstream);
  // Allow/deny lists: by repository, so tags, digests and listings alike; a denied one costs no upstream request.
  assertRepositoryAllowed(target.upstream, target.repository);
  switch (endpoint.kind) {
    case 'manifest':
      request.registry.reference = referenceText(endpoint.reference);
      return serveManifest(app, request, reply, target, endpoint.reference);
    case 'blob':
      request.registry.reference = endpoint.digest.text;
      return serveBlob(app, request, reply, target, endpoint.digest);
    case 'referrers':
      // Cached like a tag (issue 13): src/cache/referrers-cache.ts.
      request.registry.reference = endpoint.digest.text;
      return serveReferrers(app, request, reply, target, endpoint.digest);
    case 'tags': {
      request.registry.cache = 'passthrough';
      return passThrough(request, reply, {
        client: clientFor(target.upstream.name),
        target,
        kind: 'tags',
        upstreamPath: `/v2/${target.repository}/tags/list`,
        clientPath: pathname,
      });
    }
  }
}

async function serveManifest(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  target: RouteTarget,
  reference: ManifestReference,
): Promise<FastifyReply> {
  // Prefetch marks its requests as background work: they do not spend the pull quota's reserve (issue 15).
  const options = { background: request.headers[BACKGROUND_HEADER] !== undefined };
  const resolved = await app.mirror.manifests.resolve(target, reference, options);
  // Only a record from before issue 9 (per digest, for all upstreams) leaves provenance to be checked:
  // every newer record is the route upstream's own answer.
  if (resolved.legacyRecord) await app.mirror.provenance.admit(request, target, resolved.digest, 'manifest');
  const answer = await negotiate(app, request, target, reference, resolved);
  setCacheOutcome(request, answer.outcome);
  // A served manifest (and through it its layers, see eviction-plan.ts) moves to the back of the LRU order.
  app.mirror.eviction.recordAccess(answer.digest);
  reply
    .header('content-type', answer.mediaType)
    .header('docker-content-digest', answer.digest.text)
    .header('etag', `"${answer.digest.text}"`)
    // The answer depends on Accept (negotiate): a shared HTTP cache in front must not mix them up.
    .header('vary', 'accept')
    .header('content-length', answer.size);
  if (request.method === 'HEAD') return reply.send();
  return reply.send(await app.mirror.manifests.read(answer));
}

/**
 * Issue 13, item 6: only a type the client accepts (src/cache/accept-negotiation.ts). An index or list by
 * tag that the client cannot read becomes its linux/amd64 manifest, served like any manifest by digest;
 * by digest it cannot (the answer must match the digest asked for), so there, as for any other type the
 * client did not ask for, the answer is MANIFEST_UNKNOWN. HEAD and GET take the same way.
 */
async function negotiate(
  app: FastifyInstance,
  request: FastifyRequest,
  target: RouteTarget,
  reference: ManifestReference,
  answer: ManifestAnswer,
): Promise<ManifestAnswer> {
  const accept = parseAccept(request.headers.accept);
  if (accept.accepts(answer.mediaType)) return answer;
  const refuse = (): RegistryError =>
    new RegistryError('MANIFEST_UNKNOWN', `${answer.mediaType} found, but the Accept header does not include it`, {
      detail: { mediaType: answer.mediaType },
    });
  if (reference.kind !== 'tag' || !isIndexType(answer.mediaType)) throw refuse();
  const entry = defaultPlatformManifest(await app.mirror.manifests.read(answer));
  const digest = entry && accept.accepts(entry.mediaType) ? parseDigest(entry.digest) : undefined;
  if (!digest) throw refuse();
  const child = await app.mirror.manifests.resolve(target, { kind: 'digest', digest }, { background: request.headers[BACKGROUND_HEADER] !== undefined });
  if (child.legacyRecord) await app.mirror.provenance.admit(request, target, child.digest, 'manifest');
  // The entry's type is a claim of the index; the child's own (as its upstream served it) decides.
  if (!accept.accepts(child.mediaType)) throw refuse();
  // A cache miss on either manifest is what the request cost.
  return { ...child, outcome: child.outcome === 'hit' ? answer.outcome : child.outcome };
}

async function serveBlob(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  target: RouteTarget,
  digest: Digest,
): Promise<FastifyReply> {
  reply
    .header('content-type', 'application/octet-stream')
    .header('docker-content-digest', digest.text)
    .header('etag', `"${digest.text}"`)
    .header('accept-ranges', 'bytes')
    .header('cache-control', 'max-age=31536000');
  if (request.method === 'HEAD') {
    const { size, outcome } = await app.mirror.blobs.size(target, digest);
    // Answered from the store or a fill in flight, not by the route's upstream: provenance decides.
    if (outcome === 'hit' || app.mirror.fills.get(digest)) await app.mirror.provenance.admit(request, target, digest, 'blob');
    setCacheOutcome(request, outcome);
    if (outcome === 'hit') app.mirror.eviction.recordAccess(digest);
    if (size !== undefined) reply.header('content-length', size);
    return reply.send();
  }
  // Fill slots are counted per client address (issue 9); a client that goes while waiting for one leaves the queue.
  const gone = new AbortController();
  // Only a client that left before its answer was sent: aborting makes an AbortError (a stack trace),
  // a cost every finished download would otherwise pay.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) gone.abort();
  });
  const source = await app.mirror.blobs.source(target, digest, { address: request.ip, signal: gone.signal });
  // The provenance gate (issue 9): a download of the route's own upstream records it as an origin; kept
  // content, and downloads of other upstreams or replicas, are served only if this client may have them.
  // The origin's write to the metadata store is for later requests, and the first byte does not wait for
  // it (noteOrigin): it waited for an LMDB commit or two Redis round trips, 10-40 ms of every cold blob's
  // first byte on a loaded machine, up to the metadata time-out with Redis unreachable.
  if (source.fromRouteUpstream) app.mirror.provenance.noteOrigin(target.upstream.name, digest);
  else await app.mirror.provenance.admit(request, target, digest, 'blob');
  setCacheOutcome(request, source.outcome);
  const range = parseRange(request.headers.range, source.size);
  if (range.kind === 'unsatisfiable') {
    reply.header('content-range', `bytes */${source.size}`);
    throw new RegistryError('RANGE_INVALID', undefined, { detail: { range: request.headers.range } });
  }
  // storage.s3.redirect (issue 10): a kept blob goes from the bucket straight to the client, after the
  // checks above; one still being filled is streamed. No redirect: stream it as always.
  if (source.outcome === 'hit' && !app.mirror.fills.get(digest)) {
    const location = await blobRedirect(app.mirror.config, digest, request.log);
    // A blob handed to someone else to send is used all the same: it moves to the back of the LRU order.
    if (location) {
      app.mirror.eviction.recordAccess(digest);
      return reply.code(307).header('location', location).send();
    }
    // serve.offload (issue 11): nginx sends the file, Range included, after the checks above.
    const offload = await blobOffloadTarget(app.mirror.config, request, digest);
    if (offload) {
      if (request.registry && source.size !== undefined) {
        request.registry.offloadedBytes = range.kind === 'range' ? range.range.end - range.range.start + 1 : source.size;
      }
      app.mirror.eviction.recordAccess(digest);
      // The mirror's own answer is for nginx only: no freshness for a shared cache between the mirror and a
      // client that sent the mark itself, and a Vary that keeps it apart from real answers. (nginx copies
      // the mirror's Cache-Control to the client, so the blob's own is set by nginx's config instead.)
      reply.removeHeader('cache-control');
      return reply.header('vary', OFFLOAD_REQUEST_HEADER).header('x-accel-redirect', offload).send();
    }
  }
  // Pinned while it streams: this process's sweeper leaves it alone however long the download takes. A
  // fill needs no note here: it asked eviction for room before its first byte (src/storage/disk-room.ts).
  if (source.outcome === 'hit') reply.raw.once('close', app.mirror.eviction.serving(digest));
  if (range.kind === 'range') {
    const { start, end } = range.range;
    reply
      .code(206)
      .header('content-range', `bytes ${start}-${end}/${source.size}`)
      .header('content-length', end - start + 1);
    return reply.send(source.open(range.range));
  }
  if (source.size !== undefined) reply.header('content-length', source.size);
  return reply.send(source.open());
}

function setCacheOutcome(request: FastifyRequest, outcome: NonNullable<NonNullable<FastifyRequest['registry']>['cache']>): void {
  if (request.registry) request.registry.cache = outcome;
}

function referenceText(reference: ManifestReference): string {
  return reference.kind === 'tag' ? reference.tag : reference.digest.text;
}
