// The internal endpoint between replicas (issue 10, "Stateless replicas"): on object storage a multipart
// upload in progress cannot be read, so a follower on another replica streams the fill from the leader,
// which serves it from its own write in flight (its local scratch copy) as the bytes arrive.
//
//   GET /_internal/fills/<digest>?write=<id>&offset=<n>&end=<n>   x-pullthrough-replica-secret: <secret>
//
// Trust boundary (DESIGN.md): only replicas holding the shared secret (replicas.secretEnv/secretFile) get
// an answer; without a configured secret the route does not exist (404), and a missing or wrong secret is
// 401 with no bytes. Compared in constant time. The stream is readFill's, so its final byte waits for the
// digest check like any client's; followers take the final byte from the kept blob anyway.

import type { FastifyInstance } from 'fastify';
import { parseDigest } from '../reference.ts';
import { leaderStream } from '../replicas/leader-stream.ts';
import { RegistryError } from '../errors.ts';
import { REPLICA_SECRET_HEADER, replicaSecret, secretMatches } from '../replicas/replica-secret.ts';
import { readFill } from '../storage/fill-reader.ts';

interface FillQuery {
  write?: string;
  offset?: string;
  end?: string;
}

const OFFSET = /^\d{1,15}$/;

export async function internalFills(app: FastifyInstance): Promise<void> {
  const secret = replicaSecret(app.mirror.config.replicas);
  if (secret === undefined) return;
  const advertise = app.mirror.config.replicas?.advertise;
  app.mirror.fills.advertise = advertise;
  app.mirror.blobs.followLeadersOverHttp(leaderStream(secret));

  app.get<{ Params: { digest: string }; Querystring: FillQuery }>('/_internal/fills/:digest', async (request, reply) => {
    const given = request.headers[REPLICA_SECRET_HEADER];
    if (!secretMatches(typeof given === 'string' ? given : undefined, secret)) {
      reply.header('cache-control', 'no-store');
      throw new RegistryError('UNAUTHORIZED', 'replica secret required');
    }
    const digest = parseDigest(request.params.digest);
    const { write, offset = '0', end } = request.query;
    if (!digest || !write || !OFFSET.test(offset) || (end !== undefined && !OFFSET.test(end))) {
      throw new RegistryError('DIGEST_INVALID', 'expected a digest, write=<id>, offset=<n> and end=<n>');
    }
    const fill = app.mirror.fills.get(digest);
    // Only the write the follower was told about: a later fill of the same digest is a different write.
    if (!fill || fill.writeId !== write || fill.diskless) throw new RegistryError('BLOB_UNKNOWN', 'no such fill in flight here');
    const start = Number(offset);
    const last = end === undefined ? undefined : Number(end);
    if (last !== undefined && last < start) throw new RegistryError('RANGE_INVALID', 'end before offset');
    return reply
      .header('content-type', 'application/octet-stream')
      .header('cache-control', 'no-store')
      .send(readFill(fill, app.mirror.store, start, last));
  });
}
