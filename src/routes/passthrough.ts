// tags/list is a listing that changes all the time and is cheap for upstreams, so it is passed through
// with @fastify/reply-from, authenticated as the mirror, never cached. (Referrers used to be passed
// through here too; since issue 13 they are cached like a tag: src/cache/referrers-cache.ts.)
// Passed through does not mean verbatim (issue 9): the answer carries only the headers the API defines
// (the type is the one the API specifies, never the upstream's: no text/html), a pagination Link only when
// it points at the upstream's own listing (rewritten to the client's path), no redirect, and at most
// MAX_LISTING_BYTES of body. Requests go through the upstream client's own pool (listing-dispatcher.ts).

import { pipeline } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/reply-from';
import { RegistryError } from '../errors.ts';
import type { RouteTarget } from '../routing.ts';
import { byteLimit } from '../upstream/bounded-body.ts';
import { firstHeader } from '../upstream/rate-limit.ts';
import { USER_AGENT, type RegistryClient } from '../upstream/registry-client.ts';
import { upstreamError } from '../upstream/upstream-errors.ts';

/** Query parameters each listing accepts (OCI distribution-spec): nothing else is forwarded. */
const FORWARDED_QUERY = { tags: ['n', 'last'] } as const;

/** The type each listing has by the spec; the upstream's own Content-Type is never passed on. */
const LISTING_TYPE = { tags: 'application/json' } as const;

/** A listing larger than this is not one (Docker Hub's largest tag lists are a few hundred KiB). */
export const MAX_LISTING_BYTES = 4 * 1024 * 1024;

/** Headers the passthrough may set from the upstream's answer; anything else is dropped. */
const FROM_UPSTREAM = ['content-length', 'docker-content-digest', 'link'] as const;

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const NEXT_LINK = /^\s*<([^<>\s]+)>\s*;\s*rel="?next"?\s*$/i;

export async function passThrough(
  request: FastifyRequest,
  reply: FastifyReply,
  options: { client: RegistryClient; target: RouteTarget; kind: 'tags'; upstreamPath: string; clientPath: string },
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
  const upstreamUrl = new URL(target.upstream.url);
  const upstreamBase = `${upstreamUrl.pathname.replace(/\/$/, '')}${upstreamPath.replace(/\/tags\/list$/, '')}`;
  const clientBase = clientPath.replace(/\/tags\/list$/, '');
  /** The upstream's answer headers, for the error an unusable answer turns into (e.g. 429's Retry-After). */
  let upstreamHeaders: Record<string, string | string[] | undefined> = {};

  return reply.from(`${target.upstream.url}${upstreamPath}${search}`, {
    // A 503 is an answer to pass on (as UNAVAILABLE), not a reason to ask again up to ten times.
    retryDelay: () => null,
    rewriteRequestHeaders: () => {
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, accept: request.headers.accept ?? 'application/json' };
      if (authorization) headers.authorization = authorization;
      return headers;
    },
    rewriteHeaders: (headers) => {
      upstreamHeaders = headers;
      const kept: Record<string, string> = { 'content-type': LISTING_TYPE[kind] };
      const length = firstHeader(headers['content-length']);
      if (length !== undefined && /^\d{1,10}$/.test(length) && Number(length) <= MAX_LISTING_BYTES) kept['content-length'] = length;
      const digest = firstHeader(headers['docker-content-digest']);
      if (digest !== undefined && DIGEST.test(digest)) kept['docker-content-digest'] = digest;
      const link = clientLink(firstHeader(headers.link), upstreamUrl.origin, upstreamBase, clientBase);
      if (link !== undefined) kept.link = link;
      return kept;
    },
    onResponse: (_request, replyOut, response) => {
      const status = response.statusCode;
      if (status === 200) {
        // pipeline: a listing cut at the limit destroys the upstream body too, with its error handled.
        replyOut.send(pipeline(response.stream, byteLimit(MAX_LISTING_BYTES), (error) => {
          if (error) request.log.warn({ err: error, upstream: target.upstream.name }, 'upstream listing cut');
        }));
        return;
      }
      // Whatever else the upstream sent is not a listing: its body is not read, its headers are not kept.
      response.stream.destroy();
      for (const name of FROM_UPSTREAM) replyOut.removeHeader(name);
      if (status >= 300 && status < 400) {
        request.log.warn({ status, upstream: target.upstream.name }, 'upstream redirected a listing; not followed');
        replyOut.send(new RegistryError('UNAVAILABLE', 'upstream redirected the listing', { upstreamStatus: status }));
      } else {
        replyOut.send(upstreamError({ status, headers: upstreamHeaders }, 'NAME_UNKNOWN'));
      }
    },
    onError: (replyOut, { error }) => {
      request.log.warn({ err: error }, 'upstream passthrough failed');
      for (const name of FROM_UPSTREAM) replyOut.removeHeader(name);
      replyOut.send(new RegistryError('UNAVAILABLE', `upstream ${target.upstream.name} unreachable`));
    },
  });
}

/**
 * A pagination link the client can follow: only `rel="next"` to the upstream's own listing of this
 * repository, turned into the path the client used; a Link anywhere else is dropped, not passed on.
 */
function clientLink(value: string | undefined, origin: string, upstreamBase: string, clientBase: string): string | undefined {
  const match = value === undefined ? null : NEXT_LINK.exec(value);
  if (!match) return undefined;
  let url: URL;
  try {
    url = new URL(match[1] as string, `${origin}${upstreamBase}/`);
  } catch {
    return undefined;
  }
  if (url.origin !== origin || !url.pathname.startsWith(`${upstreamBase}/`)) return undefined;
  return `<${clientBase}${url.pathname.slice(upstreamBase.length)}${url.search}>; rel="next"`;
}
