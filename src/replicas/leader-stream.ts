// A follower's side of the internal fill endpoint (src/routes/internal-fills.ts): asks the leader replica
// for bytes of its write in flight and hands them on as they arrive. Loopback or a private network between
// replicas; the shared secret goes in its own header.

import { request } from 'undici';
import type { Digest } from '../reference.ts';
import { REPLICA_SECRET_HEADER } from './replica-secret.ts';

export interface LeaderStreamRequest {
  /** The leader's advertised address, from the lease note. */
  leader: string;
  digest: Digest;
  writeId: string;
  start: number;
  /** Inclusive. */
  end: number;
}

/** The bytes as an iterator; undefined when the leader does not serve that write (finished, or not its own). */
export type LeaderStream = (ask: LeaderStreamRequest) => Promise<AsyncIterator<Buffer> | undefined>;

/** A leader that accepts the request but sends nothing for this long is treated as gone (the lease logic then decides). */
const BODY_IDLE_MS = 60_000;

export function leaderStream(secret: string): LeaderStream {
  return async ({ leader, digest, writeId, start, end }) => {
    const url = new URL(`/_internal/fills/${digest.text}`, leader);
    url.searchParams.set('write', writeId);
    url.searchParams.set('offset', String(start));
    url.searchParams.set('end', String(end));
    const response = await request(url, {
      headers: { [REPLICA_SECRET_HEADER]: secret },
      headersTimeout: 10_000,
      bodyTimeout: BODY_IDLE_MS,
    });
    if (response.statusCode !== 200) {
      await response.body.dump();
      return undefined;
    }
    return (response.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  };
}
