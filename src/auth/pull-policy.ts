// Whose content a client may get. An upstream configured with credentials may hold private images the
// mirror can read and a stranger must not: its content goes only to authenticated clients, unless the
// config marks it `public: true` (say, Docker Hub credentials that only raise the pull limit). This holds
// even when client `auth` is not configured: then nobody can authenticate, and such an upstream's content
// is refused outright rather than handed to anyone who can reach the mirror.
//
// It never reaches the shared blob store through an unauthenticated route either: without `auth` it is
// never fetched; with `auth` every registry request is authenticated before it is routed. Once kept, it
// is served by digest through another upstream's route only to clients that may pull from one of its
// origins, or after that upstream confirms it has the digest too (content-provenance.ts, issue 9).

import type { FastifyRequest } from 'fastify';
import type { UpstreamConfig } from '../config.ts';
import { RegistryError } from '../errors.ts';

export function isPrivateUpstream(upstream: Pick<UpstreamConfig, 'username' | 'public'>): boolean {
  return upstream.username !== undefined && !upstream.public;
}

/**
 * Whether a client may receive content from `upstream`: it is not private, or the client authenticated.
 * Also how kept content is judged by its origins (src/cache/content-provenance.ts, issue 9).
 */
export function mayPull(client: Pick<FastifyRequest, 'clientAccount'>, upstream: Pick<UpstreamConfig, 'username' | 'public'>): boolean {
  return !isPrivateUpstream(upstream) || client.clientAccount !== undefined;
}

/** Throws unless the request may receive content from `upstream`. */
export function assertMayPull(request: FastifyRequest, upstream: UpstreamConfig): void {
  if (mayPull(request, upstream)) return;
  const auth = request.server.clientAuth;
  if (auth) throw auth.unauthorized(request, `upstream "${upstream.name}" may hold private images: authenticate first`);
  throw new RegistryError(
    'DENIED',
    `upstream "${upstream.name}" is configured with credentials and may hold private images; this mirror has no client ` +
      'authentication, so its content is refused (configure auth, or mark the upstream public: true)',
  );
}
