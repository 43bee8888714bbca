// Manifests by digest are immutable: kept once, served locally forever after. Manifests by tag are
// trusted for the upstream's freshness window (tagTtl), then revalidated with HEAD — Docker Hub does not
// count HEAD against the pull limit, while every manifest GET is a pull — and fetched with GET only when
// the tag now points at a digest not kept yet. When upstream fails (unreachable, 5xx, 429, auth), the
// last known answer is served stale. Concurrent requests for one tag share one upstream request.

import { createHash } from 'node:crypto';
import type { Logger } from '../logger.ts';
import { RegistryError } from '../errors.ts';
import { sniffManifestMediaType, UPSTREAM_MANIFEST_ACCEPT } from '../manifest-media-types.ts';
import type { MetadataStore, TagRecord } from '../metadata/metadata-store.ts';
import { type Digest, type DigestAlgorithm, type ManifestReference, parseDigest } from '../reference.ts';
import type { RouteTarget } from '../routing.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { firstHeader } from '../upstream/rate-limit.ts';
import type { RegistryClient } from '../upstream/registry-client.ts';
import { isUpstreamNotFound, upstreamError } from '../upstream/upstream-errors.ts';
import type { CacheOutcome } from './cache-outcome.ts';
import { SingleFlight } from './single-flight.ts';
import { onceAcrossReplicas } from '../replicas/once-across-replicas.ts';
import type { ReplicaLocks } from '../replicas/replica-locks.ts';

/** distribution refuses manifests over 4 MiB; anything larger from upstream is not a manifest. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Manifest {
  digest: Digest;
  mediaType: string;
  size: number;
}

export interface ManifestAnswer extends Manifest {
  outcome: CacheOutcome;
}

interface ManifestCacheDeps {
  store: BlobStore;
  metadata: MetadataStore;
  clientFor: (upstream: string) => RegistryClient;
  /** Without it (tests), this process is the only replica. */
  locks?: ReplicaLocks;
  log: Logger;
  now?: () => number;
}

export class ManifestCache {
  private readonly deps: ManifestCacheDeps;
  private readonly now: () => number;
  private readonly tagFlights = new SingleFlight<ManifestAnswer>();
  private readonly digestFlights = new SingleFlight<Manifest>();

  constructor(deps: ManifestCacheDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
  }

  async resolve(target: RouteTarget, reference: ManifestReference): Promise<ManifestAnswer> {
    if (reference.kind === 'digest') return this.byDigest(target, reference.digest);
    const key = `${target.upstream.name}/${target.repository}:${reference.tag}`;
    const record = await this.deps.metadata.getTag(target.upstream.name, target.repository, reference.tag);
    if (record && this.now() - record.checkedAt < target.upstream.tagTtl) {
      const kept = await this.keptManifest(record);
      if (kept) return { ...kept, outcome: 'hit' };
    }
    return this.tagFlights.run(key, () =>
      this.acrossReplicas(
        `tag:${key}`,
        () => this.refreshTag(target, reference.tag, record),
        // Another replica refreshed it meanwhile: its answer is in the shared metadata.
        async () => {
          const now = await this.deps.metadata.getTag(target.upstream.name, target.repository, reference.tag);
          if (!now || now.checkedAt === record?.checkedAt || this.now() - now.checkedAt >= target.upstream.tagTtl) return undefined;
          const shared = await this.keptManifest(now);
          return shared ? { ...shared, outcome: 'hit' } : undefined;
        },
      ),
    );
  }

  private acrossReplicas<T>(name: string, work: () => Promise<T>, settled: () => Promise<T | undefined>): Promise<T> {
    return this.deps.locks ? onceAcrossReplicas(this.deps.locks, name, work, settled) : work();
  }

  private fetchByDigestOnce(target: RouteTarget, digest: Digest): Promise<Manifest> {
    return this.digestFlights.run(digest.text, () =>
      this.acrossReplicas(`manifest:${digest.text}`, () => this.fetchUnlessKept(target, digest), () => this.keptByDigest(digest)),
    );
  }

  /** The bytes of a manifest resolved before. */
  async read(manifest: Manifest): Promise<Buffer> {
    const bytes = await this.deps.store.readAll(manifest.digest);
    if (!bytes) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest no longer kept');
    return bytes;
  }

  private async byDigest(target: RouteTarget, digest: Digest): Promise<ManifestAnswer> {
    const kept = await this.deps.store.stat(digest);
    if (kept) return { digest, mediaType: await this.mediaTypeOf(digest), size: kept.size, outcome: 'hit' };
    const fetched = await this.fetchByDigestOnce(target, digest);
    return { ...fetched, outcome: 'miss' };
  }

  private async refreshTag(target: RouteTarget, tag: string, record: TagRecord | undefined): Promise<ManifestAnswer> {
    const kept = record ? await this.keptManifest(record) : undefined;
    if (!record || !kept) {
      const fetched = await this.fetch(target, tag);
      await this.remember(target, tag, fetched);
      return { ...fetched, outcome: 'miss' };
    }
    try {
      const current = await this.headTag(target, tag);
      if (current?.text === record.digest) {
        await this.remember(target, tag, kept);
        return { ...kept, outcome: 'revalidated' };
      }
      // The tag moved (or the upstream gave no digest on HEAD): fetch what it points at now.
      const fetched = current
        ? await this.fetchByDigestOnce(target, current)
        : await this.fetch(target, tag);
      await this.remember(target, tag, fetched);
      return { ...fetched, outcome: 'miss' };
    } catch (error) {
      if (isUpstreamNotFound(error)) {
        await this.deps.metadata.deleteTag(target.upstream.name, target.repository, tag);
        throw error;
      }
      this.deps.log.warn(
        { upstream: target.upstream.name, repository: target.repository, tag, err: error },
        'upstream failed, serving stale tag',
      );
      return { ...kept, outcome: 'stale' };
    }
  }

  private async headTag(target: RouteTarget, tag: string): Promise<Digest | undefined> {
    const response = await this.client(target).send({
      method: 'HEAD',
      path: `/v2/${target.repository}/manifests/${tag}`,
      repository: target.repository,
      headers: { accept: UPSTREAM_MANIFEST_ACCEPT },
    });
    await response.body.dump();
    if (response.status !== 200) throw upstreamError(response, 'MANIFEST_UNKNOWN');
    return parseDigest(firstHeader(response.headers['docker-content-digest']) ?? '');
  }

  private async fetchUnlessKept(target: RouteTarget, digest: Digest): Promise<Manifest> {
    return (await this.keptByDigest(digest)) ?? this.fetch(target, digest.text, digest);
  }

  private async keptByDigest(digest: Digest): Promise<Manifest | undefined> {
    const kept = await this.deps.store.stat(digest);
    return kept ? { digest, mediaType: await this.mediaTypeOf(digest), size: kept.size } : undefined;
  }

  /** GETs a manifest, checks it against its digest, keeps it. */
  private async fetch(target: RouteTarget, reference: string, expected?: Digest): Promise<Manifest> {
    const response = await this.client(target).send({
      method: 'GET',
      path: `/v2/${target.repository}/manifests/${reference}`,
      repository: target.repository,
      headers: { accept: UPSTREAM_MANIFEST_ACCEPT },
    });
    if (response.status !== 200) {
      await response.body.dump();
      throw upstreamError(response, 'MANIFEST_UNKNOWN');
    }
    const bytes = await readLimited(response.body, MAX_MANIFEST_BYTES);
    const announced = parseDigest(firstHeader(response.headers['docker-content-digest']) ?? '');
    const algorithm: DigestAlgorithm = expected?.algorithm ?? announced?.algorithm ?? 'sha256';
    const hex = createHash(algorithm).update(bytes).digest('hex');
    const claimed = expected ?? (announced?.algorithm === algorithm ? announced : undefined);
    if (claimed && claimed.hex !== hex) {
      throw new RegistryError('UNAVAILABLE', 'upstream manifest does not match its digest', {
        detail: { expected: claimed.text, actual: `${algorithm}:${hex}` },
      });
    }
    const digest: Digest = { algorithm, hex, text: `${algorithm}:${hex}` };
    const mediaType = firstHeader(response.headers['content-type']) || sniffManifestMediaType(bytes);
    await this.deps.store.put(digest, bytes);
    await this.deps.metadata.setManifest(digest.text, { mediaType });
    return { digest, mediaType, size: bytes.length };
  }

  private async remember(target: RouteTarget, tag: string, manifest: Manifest): Promise<void> {
    await this.deps.metadata.setTag(target.upstream.name, target.repository, tag, {
      digest: manifest.digest.text,
      mediaType: manifest.mediaType,
      size: manifest.size,
      checkedAt: this.now(),
    });
  }

  private async keptManifest(record: TagRecord): Promise<Manifest | undefined> {
    const digest = parseDigest(record.digest);
    if (!digest) return undefined;
    const kept = await this.deps.store.stat(digest);
    return kept ? { digest, mediaType: record.mediaType, size: kept.size } : undefined;
  }

  /** Media type as the upstream sent it; sniffed from the body if the metadata was lost (e.g. Redis flushed). */
  private async mediaTypeOf(digest: Digest): Promise<string> {
    const record = await this.deps.metadata.getManifest(digest.text);
    if (record) return record.mediaType;
    const bytes = await this.deps.store.readAll(digest);
    return bytes ? sniffManifestMediaType(bytes) : 'application/octet-stream';
  }

  private client(target: RouteTarget): RegistryClient {
    return this.deps.clientFor(target.upstream.name);
  }
}

async function readLimited(body: AsyncIterable<Buffer>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > limit) throw new RegistryError('MANIFEST_INVALID', 'upstream manifest exceeds 4 MiB');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
