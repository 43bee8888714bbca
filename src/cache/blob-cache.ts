// Blobs are immutable by digest: kept ones are served from disk with no upstream request; a miss joins
// (or starts) the one upstream download for that digest and streams it as it arrives.

import type { Readable } from 'node:stream';
import type { Logger } from '../logger.ts';
import { RegistryError } from '../errors.ts';
import type { Digest } from '../reference.ts';
import type { RouteTarget } from '../routing.ts';
import { type BlobFills, readFill } from '../storage/blob-fill.ts';
import type { BlobStore, ByteRange } from '../storage/blob-store.ts';
import { firstHeader } from '../upstream/rate-limit.ts';
import type { RegistryClient } from '../upstream/registry-client.ts';
import { upstreamError } from '../upstream/upstream-errors.ts';
import type { CacheOutcome } from './cache-outcome.ts';

export interface BlobSource {
  /** Total size, when known (a kept blob, or an upstream that announced Content-Length). */
  size: number | undefined;
  outcome: CacheOutcome;
  /** Opens the content, whole or a range of it. */
  open(range?: ByteRange): Readable;
}

interface BlobCacheDeps {
  store: BlobStore;
  fills: BlobFills;
  clientFor: (upstream: string) => RegistryClient;
  log: Logger;
}

export class BlobCache {
  private readonly deps: BlobCacheDeps;

  constructor(deps: BlobCacheDeps) {
    this.deps = deps;
  }

  /** For GET: the kept blob, or the running/new fill once the upstream has started sending. */
  async source(target: RouteTarget, digest: Digest): Promise<BlobSource> {
    const kept = await this.kept(digest);
    if (kept) return kept;
    const fill = this.deps.fills.join(digest, () => this.fetch(target, digest));
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
      outcome: 'miss',
      open: (range) => readFill(fill, store, range?.start ?? 0, range?.end),
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
    return { size: Number.isSafeInteger(length) && length >= 0 ? length : undefined, outcome: 'miss' };
  }

  private async kept(digest: Digest): Promise<BlobSource | undefined> {
    const stat = await this.deps.store.stat(digest);
    if (!stat) return undefined;
    return { size: stat.size, outcome: 'hit', open: (range) => this.deps.store.read(digest, range) };
  }

  private async fetch(target: RouteTarget, digest: Digest): Promise<{ size: number | undefined; body: Readable }> {
    const response = await this.client(target).send({
      method: 'GET',
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
    return { size: Number.isSafeInteger(length) && length >= 0 ? length : undefined, body: response.body };
  }

  private client(target: RouteTarget): RegistryClient {
    return this.deps.clientFor(target.upstream.name);
  }
}
