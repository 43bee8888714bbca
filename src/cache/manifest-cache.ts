// Manifests by digest are immutable: kept once, served locally forever after. Manifests by tag are
// trusted for the upstream's freshness window (tagTtl), then revalidated with HEAD — Docker Hub does not
// count HEAD against the pull limit, while every manifest GET is a pull — and fetched with GET only when
// the tag now points at a digest not kept yet. When upstream fails (unreachable, 5xx, 429, auth), the
// last known answer is served stale. Concurrent requests for one tag share one upstream request.
//
// Issue 9: a manifest is served only from a record made when the route's upstream served it *as a
// manifest*, with one of the known manifest media types (never guessed from the body) and within
// limits.maxManifestSize. Records are per (upstream, digest). A digest kept for another reason (a layer,
// another upstream's manifest) is not a manifest of this route's upstream until that upstream says so:
// a HEAD when the bytes are kept and small enough, a GET when they are not kept; anything bigger than
// the cap is never read and never a manifest.

import { createHash } from 'node:crypto';
import type { Logger } from '../logger.ts';
import { RegistryError } from '../errors.ts';
import { knownManifestType, UPSTREAM_MANIFEST_ACCEPT } from '../manifest-media-types.ts';
import type { MetadataStore, TagRecord } from '../metadata/metadata-store.ts';
import { type Digest, type DigestAlgorithm, type ManifestReference, parseDigest } from '../reference.ts';
import type { RouteTarget } from '../routing.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { firstHeader } from '../upstream/rate-limit.ts';
import type { RegistryClient, UpstreamResponse } from '../upstream/registry-client.ts';
import { isUpstreamNotFound, upstreamError } from '../upstream/upstream-errors.ts';
import type { CacheOutcome } from './cache-outcome.ts';
import { NegativeCache } from './negative-cache.ts';
import { QuotaDeferral, type QuotaPolicy, type Spend } from './quota-policy.ts';
import { SingleFlight } from './single-flight.ts';
import { onceAcrossReplicas } from '../replicas/once-across-replicas.ts';
import type { ReplicaLocks } from '../replicas/replica-locks.ts';
import { readAtMost } from '../upstream/bounded-body.ts';

export interface Manifest {
  digest: Digest;
  mediaType: string;
  size: number;
}

export interface ManifestAnswer extends Manifest {
  outcome: CacheOutcome;
  /**
   * Served on the strength of a per-digest record from before issue 9, not one the route's upstream
   * made: the caller must check the digest's provenance (content-provenance.ts) before serving it.
   */
  legacyRecord?: boolean;
}

interface ManifestCacheDeps {
  store: BlobStore;
  /** limits.maxManifestSize: larger answers are not manifests (distribution refuses over 4 MiB too). */
  maxManifestSize: number;
  /** Records the upstream a manifest was fetched from or confirmed by as one of its origins. */
  recordOrigin: (upstream: string, digest: Digest) => Promise<void>;
  metadata: MetadataStore;
  clientFor: (upstream: string) => RegistryClient;
  /** Without it (tests), this process is the only replica. */
  locks?: ReplicaLocks;
  log: Logger;
  now?: () => number;
  /** Issue 15: decides which manifest GETs the upstream's pull quota allows. Without it, all. */
  quota?: QuotaPolicy;
}

export interface ResolveOptions {
  /** Background work (prefetch): does not spend the quota's reserve on content nobody has yet. */
  background?: boolean;
}

export class ManifestCache {
  private readonly deps: ManifestCacheDeps;
  private readonly now: () => number;
  private readonly tagFlights = new SingleFlight<ManifestAnswer>();
  private readonly digestFlights = new SingleFlight<ManifestAnswer>();
  private readonly absent: NegativeCache;

  constructor(deps: ManifestCacheDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.absent = new NegativeCache(deps.metadata, this.now);
  }

  async resolve(target: RouteTarget, reference: ManifestReference, options: ResolveOptions = {}): Promise<ManifestAnswer> {
    const spend: Spend = options.background ? 'background' : 'new';
    if (reference.kind === 'digest') return this.byDigest(target, reference.digest, spend);
    const key = `${target.upstream.name}/${target.repository}:${reference.tag}`;
    const record = await this.deps.metadata.getTag(target.upstream.name, target.repository, reference.tag);
    if (record && this.now() - record.checkedAt < target.upstream.tagTtl) {
      const kept = await this.keptManifest(record);
      if (kept) return { ...kept, outcome: 'hit' };
    }
    // Issue 13: a tag the upstream said is unknown, within negativeTtl, costs no upstream request.
    await this.absent.check(target, reference.tag);
    return this.tagFlights.run(key, () =>
      this.acrossReplicas(
        `tag:${key}`,
        () => this.refreshTag(target, reference.tag, record, spend),
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

  /**
   * One upstream exchange per (upstream, digest): a request through another upstream's route never
   * joins this one, since what one upstream serves says nothing about another.
   */
  private fetchByDigestOnce(target: RouteTarget, digest: Digest, spend: Spend): Promise<ManifestAnswer> {
    const key = `${target.upstream.name}:${digest.text}`;
    return this.digestFlights.run(key, () =>
      this.acrossReplicas(`manifest:${key}`, () => this.fetchUnlessKept(target, digest, spend), async () => {
        const kept = await this.keptByDigest(target, digest);
        return kept && { ...kept, outcome: 'hit' };
      }),
    );
  }

  /** The bytes of a manifest resolved before. */
  async read(manifest: Manifest): Promise<Buffer> {
    // Resolved manifests are within the cap; checked again so nothing else is ever read whole.
    if (manifest.size > this.deps.maxManifestSize) throw new RegistryError('MANIFEST_UNKNOWN');
    const bytes = await this.deps.store.readAll(manifest.digest);
    if (!bytes) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest no longer kept');
    return bytes;
  }

  private async byDigest(target: RouteTarget, digest: Digest, spend: Spend = 'new'): Promise<ManifestAnswer> {
    const kept = await this.keptByDigest(target, digest);
    if (kept) return { ...kept, outcome: 'hit' };
    await this.absent.check(target, digest.text);
    return this.fetchByDigestOnce(target, digest, spend);
  }

  private async refreshTag(target: RouteTarget, tag: string, record: TagRecord | undefined, spend: Spend): Promise<ManifestAnswer> {
    const kept = record ? await this.keptManifest(record) : undefined;
    if (!record || !kept) {
      const fetched = await this.fetch(target, tag, undefined, spend);
      await this.remember(target, tag, fetched);
      return { ...fetched, outcome: 'miss' };
    }
    let current: Digest | undefined;
    try {
      // HEAD costs no pull on Docker Hub: revalidation goes on whatever the quota says (issue 15).
      current = await this.headTag(target, tag);
      if (current?.text === record.digest) {
        await this.remember(target, tag, kept);
        return { ...kept, outcome: 'revalidated' };
      }
      // The tag moved (or the upstream gave no digest on HEAD): fetch what it points at now, if the
      // quota allows a refresh (a digest already kept costs nothing).
      const fetched = current
        ? await this.byDigest(target, current, 'refresh')
        : { ...(await this.fetch(target, tag, undefined, 'refresh')), outcome: 'miss' as const };
      await this.remember(target, tag, fetched);
      return { ...fetched, outcome: 'miss' };
    } catch (error) {
      if (isUpstreamNotFound(error)) {
        await this.deps.metadata.deleteTag(target.upstream.name, target.repository, tag);
        throw error;
      }
      if (error instanceof QuotaDeferral) {
        // Issue 15: the record is not rewritten, so the next request looks again (HEAD is free) and the
        // first one after the window's reset fetches the new manifest.
        this.deps.quota?.servedStale(target.upstream.name, { repository: target.repository, tag, cached: record.digest, ...(current && { upstreamDigest: current.text }) }, error);
        return { ...kept, outcome: 'stale' };
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
    if (response.status !== 200) throw await this.refused(target, tag, response);
    return parseDigest(firstHeader(response.headers['docker-content-digest']) ?? '');
  }

  /**
   * Not a manifest of this upstream yet (another replica may have made it one meanwhile). Kept bytes
   * within the cap are confirmed with a HEAD (no pull counted; the bytes are the digest's, verified when
   * kept); bytes over the cap cannot be a manifest, whoever serves them; others are fetched.
   */
  private async fetchUnlessKept(target: RouteTarget, digest: Digest, spend: Spend): Promise<ManifestAnswer> {
    const record = await this.keptByDigest(target, digest);
    if (record) return { ...record, outcome: 'hit' };
    const kept = await this.deps.store.stat(digest);
    if (kept && kept.size > this.deps.maxManifestSize) {
      throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { digest: digest.text } });
    }
    if (kept) return { ...(await this.confirm(target, digest, kept.size)), outcome: 'revalidated' };
    return { ...(await this.fetch(target, digest.text, digest, spend)), outcome: 'miss' };
  }

  /** A kept manifest of `target`'s upstream: its own record, or a legacy one naming a known type. */
  private async keptByDigest(target: RouteTarget, digest: Digest): Promise<(Manifest & { legacyRecord?: true }) | undefined> {
    const record = await this.deps.metadata.getManifest(target.upstream.name, digest.text);
    const legacy = record ? undefined : await this.deps.metadata.getLegacyManifest(digest.text);
    const mediaType = knownManifestType((record ?? legacy)?.mediaType);
    if (!mediaType) return undefined;
    const kept = await this.deps.store.stat(digest);
    if (!kept || kept.size > this.deps.maxManifestSize) return undefined;
    return { digest, mediaType, size: kept.size, ...(!record && { legacyRecord: true as const }) };
  }

  /** Asks the upstream (HEAD) whether the kept bytes are one of its manifests, and as what. */
  private async confirm(target: RouteTarget, digest: Digest, size: number): Promise<Manifest> {
    const response = await this.client(target).send({
      method: 'HEAD',
      path: `/v2/${target.repository}/manifests/${digest.text}`,
      repository: target.repository,
      headers: { accept: UPSTREAM_MANIFEST_ACCEPT },
    });
    await response.body.dump();
    if (response.status !== 200) throw await this.refused(target, digest.text, response);
    const announced = firstHeader(response.headers['docker-content-digest']);
    if (announced !== undefined && announced !== digest.text) {
      throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { upstreamDigest: announced } });
    }
    const mediaType = this.mediaTypeOf(target, firstHeader(response.headers['content-type']));
    await this.record(target, digest, mediaType);
    return { digest, mediaType, size };
  }

  /** GETs a manifest (one pull of the upstream's quota, if the quota allows it), checks it against its digest, keeps it. */
  private async fetch(target: RouteTarget, reference: string, expected: Digest | undefined, spend: Spend): Promise<Manifest> {
    const release = await this.deps.quota?.acquire(target.upstream, spend);
    try {
      return await this.fetchNow(target, reference, expected);
    } finally {
      release?.();
    }
  }

  private async fetchNow(target: RouteTarget, reference: string, expected: Digest | undefined): Promise<Manifest> {
    const response = await this.client(target).send({
      method: 'GET',
      path: `/v2/${target.repository}/manifests/${reference}`,
      repository: target.repository,
      headers: { accept: UPSTREAM_MANIFEST_ACCEPT },
    });
    if (response.status !== 200) {
      await response.body.dump();
      throw await this.refused(target, reference, response);
    }
    let mediaType: string;
    try {
      mediaType = this.mediaTypeOf(target, firstHeader(response.headers['content-type']));
      const length = Number(firstHeader(response.headers['content-length']));
      if (length > this.deps.maxManifestSize) throw tooBig(this.deps.maxManifestSize);
    } catch (error) {
      // Undici reads at most a little of the body, then closes it quietly.
      await response.body.dump();
      throw error;
    }
    const bytes = await readAtMost(response.body, this.deps.maxManifestSize);
    if (bytes === undefined) throw tooBig(this.deps.maxManifestSize);
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
    // The bytes and their records at once, not one after another (each waits for a commit or a round trip,
    // on every cold manifest a pull asks for): a record whose bytes failed to land reads as not kept, since
    // keptByDigest finds no bytes in the store, and the manifest is fetched again.
    await Promise.all([this.deps.store.put(digest, bytes), this.record(target, digest, mediaType)]);
    return { digest, mediaType, size: bytes.length };
  }

  /** The upstream's refusal as the mirror's error; a definitive "unknown" is remembered for negativeTtl. */
  private async refused(target: RouteTarget, reference: string, response: UpstreamResponse): Promise<RegistryError> {
    const error = upstreamError(response, 'MANIFEST_UNKNOWN');
    await this.absent.remember(target, reference, response, error);
    return error;
  }

  /** The known manifest type an upstream's Content-Type names; anything else is refused, never kept. */
  private mediaTypeOf(target: RouteTarget, contentType: string | undefined): string {
    const mediaType = knownManifestType(contentType);
    if (mediaType) return mediaType;
    this.deps.log.warn({ upstream: target.upstream.name, repository: target.repository, contentType }, 'upstream answered a manifest request with a non-manifest type');
    throw new RegistryError('MANIFEST_INVALID', 'upstream answer is not a manifest', { detail: { contentType: contentType ?? null } });
  }

  private async record(target: RouteTarget, digest: Digest, mediaType: string): Promise<void> {
    // Issued together: the embedded store commits them in one transaction, Redis answers both in one wait.
    await Promise.all([this.deps.metadata.setManifest(target.upstream.name, digest.text, { mediaType }), this.deps.recordOrigin(target.upstream.name, digest)]);
  }

  private async remember(target: RouteTarget, tag: string, manifest: Manifest): Promise<void> {
    await this.deps.metadata.setTag(target.upstream.name, target.repository, tag, {
      digest: manifest.digest.text,
      mediaType: manifest.mediaType,
      size: manifest.size,
      checkedAt: this.now(),
    });
  }

  /**
   * The manifest a tag record (this upstream's own answer) points at, if kept. A record from an older
   * version with an unknown type (say, text/html) or a size over the cap reads as not kept: refetched.
   */
  private async keptManifest(record: TagRecord): Promise<Manifest | undefined> {
    const digest = parseDigest(record.digest);
    const mediaType = knownManifestType(record.mediaType);
    if (!digest || !mediaType) return undefined;
    const kept = await this.deps.store.stat(digest);
    return kept && kept.size <= this.deps.maxManifestSize ? { digest, mediaType, size: kept.size } : undefined;
  }

  private client(target: RouteTarget): RegistryClient {
    return this.deps.clientFor(target.upstream.name);
  }
}

function tooBig(limit: number): RegistryError {
  return new RegistryError('MANIFEST_INVALID', 'upstream manifest exceeds limits.maxManifestSize', { detail: { limit } });
}
