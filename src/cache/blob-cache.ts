// Blobs are immutable by digest: kept ones are served from disk with no upstream request; a miss joins
// (or starts) the one upstream download for that digest and streams it as it arrives. Across replicas
// sharing a store, the `fill:<digest>` lease picks the one replica that downloads; the others follow its
// write in flight (src/replicas/remote-fill-reader.ts), through the store or, where the store cannot read
// another process's write (S3), from the leader's internal endpoint (src/routes/internal-fills.ts).
//
// Bounded work per client (issue 9): starting a download takes a fill slot (src/storage/fill-slots.ts),
// limited in total and per client address; a request over the limit waits for one, then gets 429. Kept
// blobs and downloads already running are served without a slot. Sizes an upstream announces above
// limits.maxBlobSize are refused (DENIED), for HEAD as for GET, and never reach a client.

import type { Readable } from 'node:stream';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { RegistryError } from '../errors.ts';
import type { Digest } from '../reference.ts';
import type { RouteTarget } from '../routing.ts';
import { BlobFill, type BlobFills, blobTooLarge, type UpstreamBlob } from '../storage/blob-fill.ts';
import { readFill } from '../storage/fill-reader.ts';
import type { BlobStore, ByteRange } from '../storage/blob-store.ts';
import { type FillSlot, FillSlots } from '../storage/fill-slots.ts';
import { firstHeader } from '../upstream/rate-limit.ts';
import type { RegistryClient } from '../upstream/registry-client.ts';
import { upstreamError } from '../upstream/upstream-errors.ts';
import type { CacheOutcome } from './cache-outcome.ts';
import type { ReplicaLocks } from '../replicas/replica-locks.ts';
import { parseRemoteFillInfo, readRemoteFill, type RemoteFillInfo } from '../replicas/remote-fill-reader.ts';
import type { LeaderStream } from '../replicas/leader-stream.ts';

export interface BlobSource {
  /** Total size, when known: a kept blob's, or the one its upstream announced (at most limits.maxBlobSize). */
  size: number | undefined;
  outcome: CacheOutcome;
  /**
   * The bytes come from a download of the route's own upstream (so it is an origin of this digest). Anything
   * else — kept content, another replica's download, or a download started for another upstream that this
   * request joined — must pass provenance before it is served (issue 9).
   */
  fromRouteUpstream: boolean;
  /** Opens the content, whole or a range of it. */
  open(range?: ByteRange): Readable;
}

interface BlobCacheDeps {
  store: BlobStore;
  fills: BlobFills;
  clientFor: (upstream: string) => RegistryClient;
  locks: ReplicaLocks;
  log: Logger;
  limits: Pick<Config['limits'], 'maxBlobSize' | 'maxConcurrentFills' | 'maxConcurrentFillsPerClient' | 'fillQueueTimeout'>;
}

/** Who asks for a blob: the address its fill slots are counted by, and its request's end. */
export interface BlobClient {
  address: string;
  /** Aborts when the client has gone (stops waiting for a fill slot). */
  signal?: AbortSignal;
}

/** How long a follower waits for the leading replica to say where it writes (it must hear from upstream first). */
const LEADER_INFO_WAIT_MS = 10_000;

export class BlobCache {
  private readonly deps: BlobCacheDeps;
  private readonly slots: FillSlots;
  /** Streams another replica's fill from its internal endpoint; set with replicas.secret (followLeadersOverHttp). */
  private leaderStream: LeaderStream | undefined;

  constructor(deps: BlobCacheDeps) {
    this.deps = deps;
    this.slots = new FillSlots({
      total: deps.limits.maxConcurrentFills,
      perClient: deps.limits.maxConcurrentFillsPerClient,
      queueTimeoutMs: deps.limits.fillQueueTimeout,
    });
  }

  /** Followers whose store cannot read the leader's write stream it from the leader (src/routes/internal-fills.ts). */
  followLeadersOverHttp(stream: LeaderStream): void {
    this.leaderStream = stream;
  }

  /** For GET: the kept blob, or the running/new fill once the upstream has started sending. */
  async source(target: RouteTarget, digest: Digest, client: BlobClient): Promise<BlobSource> {
    const kept = await this.kept(digest);
    if (kept) return kept;
    // Joining a download already under way costs no upstream request and no slot: only the request that
    // started it is a miss.
    let running = this.deps.fills.get(digest);
    let fill: BlobFill | BlobSource;
    if (running) {
      fill = running;
    } else {
      const free = this.slots.tryAcquire(client.address);
      const slot = free ?? (await this.slots.acquire(client.address, client.signal));
      try {
        // While it waited, the blob may have been kept or its download started by someone else. A slot had
        // at once leaves that look to leadOrFollow, which makes it anyway once it holds the lease: one
        // file-system round trip fewer before a cold blob's first byte.
        const keptMeanwhile = free ? undefined : await this.kept(digest);
        running = this.deps.fills.get(digest);
        if (keptMeanwhile || running) slot.release();
        if (keptMeanwhile) return keptMeanwhile;
        fill = running ?? (await this.leadOrFollow(target, digest, slot, client));
      } catch (error) {
        slot.release();
        throw error;
      }
    }
    if (!(fill instanceof BlobFill)) return fill;
    try {
      await fill.started;
    } catch (error) {
      // Committed by another path meanwhile (e.g. a fill that ended as we joined)? Serve that.
      const late = await this.kept(digest);
      if (late) return late;
      throw error;
    }
    const { store } = this.deps;
    return {
      size: fill.size,
      outcome: running ? 'hit' : 'miss',
      // A download joined in leadOrFollow may have been started meanwhile for another upstream: only the
      // fill's own upstream counts, so a private upstream's bytes cannot reach a public route by a race.
      fromRouteUpstream: fill.upstream === target.upstream.name,
      open: (range) => readFill(fill, store, range?.start ?? 0, range?.end),
    };
  }

  /**
   * Starts the fill if this replica gets the lease (the fill then holds `slot` until it ends); otherwise
   * follows the replica that has it, and `slot` is released: this process does no upstream work for it.
   */
  private async leadOrFollow(target: RouteTarget, digest: Digest, slot: FillSlot, client?: BlobClient): Promise<BlobFill | BlobSource> {
    const deadline = Date.now() + LEADER_INFO_WAIT_MS;
    for (;;) {
      const lease = await this.deps.locks.tryAcquire(`fill:${digest.text}`);
      if (lease) {
        // The previous holder may have kept the blob and let go since we last looked.
        const keptMeanwhile = await this.kept(digest);
        if (!keptMeanwhile) return this.deps.fills.join(digest, () => this.fetch(target, digest), lease, slot, target.upstream.name);
        await lease.release();
        slot.release();
        return keptMeanwhile;
      }
      // The lease may be our own process's (a fill started while we asked): join it locally.
      const local = this.deps.fills.get(digest);
      if (local) {
        slot.release();
        return local;
      }
      const leader = await this.deps.locks.peek(`fill:${digest.text}`);
      const info = parseRemoteFillInfo(leader.info);
      if (info) {
        slot.release();
        return this.follow(target, digest, info, client);
      }
      const kept = await this.kept(digest);
      if (kept) {
        slot.release();
        return kept;
      }
      if (Date.now() > deadline) throw new RegistryError('UNAVAILABLE', 'another replica is fetching this blob and has not started');
      // Not published yet (the leader waits for upstream headers) or just released: ask again shortly.
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  private follow(target: RouteTarget, digest: Digest, info: RemoteFillInfo, client: BlobClient = { address: 'replica-takeover' }): BlobSource {
    const { store, locks } = this.deps;
    const name = `fill:${digest.text}`;
    const leaderStream = this.leaderStream;
    return {
      size: info.size,
      // Another replica does the upstream fetch (from whichever upstream it was asked through).
      outcome: 'hit',
      fromRouteUpstream: false,
      open: (range) =>
        readRemoteFill(store, digest, info, { start: range?.start ?? 0, end: range?.end ?? info.size - 1 }, {
          current: async () => {
            const leader = await locks.peek(name);
            return { held: leader.held, info: parseRemoteFillInfo(leader.info) };
          },
          takeOver: async (position, end, deadTemp) => {
            // Taking over a download is starting one: it needs a slot like any other.
            const running = this.deps.fills.get(digest);
            let fill: BlobFill | BlobSource;
            if (running) {
              fill = running;
            } else {
              const slot = await this.slots.acquire(client.address);
              try {
                fill = await this.leadOrFollow(target, digest, slot, client);
              } catch (error) {
                slot.release();
                throw error;
              }
            }
            if (!(fill instanceof BlobFill)) return fill.open({ start: position, end });
            await fill.started;
            // The vanished leader's partial write: open readers keep their copy, nobody else needs it.
            await store.discardInFlight(deadTemp);
            this.deps.log.info({ digest: digest.text, position }, 'took over a fill from a replica that stopped');
            return readFill(fill, store, position, end);
          },
          ...(leaderStream && { stream: (leader: string, temp: string, start: number, end: number) => leaderStream({ leader, digest, writeId: temp, start, end }) }),
        }),
    };
  }

  /** For HEAD: size without downloading; asks upstream with HEAD when the blob is not kept or in flight. */
  async size(target: RouteTarget, digest: Digest): Promise<{ size: number | undefined; outcome: CacheOutcome }> {
    const stat = await this.deps.store.stat(digest);
    if (stat) return { size: stat.size, outcome: 'hit' };
    const fill = this.deps.fills.get(digest);
    if (fill && fill.size !== undefined && (fill.state === 'streaming' || fill.state === 'verified')) return { size: fill.size, outcome: 'miss' };
    const response = await this.client(target).send({
      method: 'HEAD',
      path: `/v2/${target.repository}/blobs/${digest.text}`,
      repository: target.repository,
    });
    await response.body.dump();
    if (response.status !== 200) throw upstreamError(response, 'BLOB_UNKNOWN');
    const length = Number(firstHeader(response.headers['content-length']));
    const size = Number.isSafeInteger(length) && length >= 0 ? length : undefined;
    // The GET would be refused (blob-fill.ts): HEAD says so too, and never passes the claim on.
    if (size !== undefined && size > this.deps.limits.maxBlobSize) {
      throw blobTooLarge(size, this.deps.limits.maxBlobSize);
    }
    return { size, outcome: 'miss' };
  }

  private async kept(digest: Digest): Promise<BlobSource | undefined> {
    const stat = await this.deps.store.stat(digest);
    if (!stat) return undefined;
    // The whole blob asked for as the byte range it is: the store reads exactly that much and stops (a file
    // stream without an end reads once more to find the end of the file — a thread-pool round trip and a
    // buffer of the read size per download, a fifth of the work for a 1 MiB blob).
    const whole = stat.size > 0 ? { start: 0, end: stat.size - 1 } : undefined;
    return { size: stat.size, outcome: 'hit', fromRouteUpstream: false, open: (range) => this.deps.store.open(digest, range ?? whole) };
  }

  private async fetch(target: RouteTarget, digest: Digest): Promise<UpstreamBlob> {
    const response = await this.client(target).getBlob({
      path: `/v2/${target.repository}/blobs/${digest.text}`,
      repository: target.repository,
    });
    if (response.status !== 200) {
      await response.body.dump();
      throw upstreamError(response, 'BLOB_UNKNOWN');
    }
    const length = Number(firstHeader(response.headers['content-length']));
    if (firstHeader(response.headers['content-encoding']) && firstHeader(response.headers['content-encoding']) !== 'identity') {
      await response.body.dump();
      throw new RegistryError('UNAVAILABLE', 'upstream sent an encoded blob');
    }
    const body = response.body;
    return { size: Number.isSafeInteger(length) && length >= 0 ? length : undefined, body, discard: () => body.drop() };
  }

  private client(target: RouteTarget): RegistryClient {
    return this.deps.clientFor(target.upstream.name);
  }
}
