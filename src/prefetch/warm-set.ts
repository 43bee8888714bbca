// The pinned warm set (issue 13, item 4): the images listed under `prefetch:` in the config are fetched
// when the mirror starts (in the background: start-up never waits for an upstream), refreshed once per
// freshness window of their upstream (tagTtl), and every digest they are made of — index, platform
// manifests, configs, layers — is kept out of eviction while they are listed.
//
// The walk goes through the mirror's own caches, as a client pull would: ManifestCache and BlobCache,
// so single flight (in-process and across replicas), provenance records, allow/deny rules, size limits
// and fill slots all apply. Manifests are asked for as background work, so they never spend the pull
// quota's reserve (issue 15): at the reserve (or with the quota spent or limited) the refresh pauses
// until the window resets. A refresh after the window costs a HEAD per tag (free on Docker Hub) and a
// GET only for what moved.
//
// Replicas: a refresh cycle holds the `prefetch:warm` lease, so one replica refreshes at a time; another
// waits for it to finish and then walks the set itself, which its caches answer (the tags were just
// revalidated, the blobs are kept) — so every replica knows the digests to keep and shows them.

import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BlobCache } from '../cache/blob-cache.ts';
import type { ContentProvenance } from '../cache/content-provenance.ts';
import type { ManifestCache, ManifestAnswer } from '../cache/manifest-cache.ts';
import { QuotaDeferral, type QuotaPolicy } from '../cache/quota-policy.ts';
import { parseImageReference } from '../cli/image-reference.ts';
import type { Logger } from '../logger.ts';
import { parseDigest, parseManifestReference, type Digest } from '../reference.ts';
import type { ReplicaLocks } from '../replicas/replica-locks.ts';
import { assertRepositoryAllowed } from '../repository-rules.ts';
import type { RouteTarget, UpstreamRouter } from '../routing.ts';
import { imageBlobs, indexEntries, platformText } from './image-contents.ts';
import type { PinnedImageConfig } from './pinned-config.ts';

export type PinnedState = 'pending' | 'warming' | 'warm' | 'failed' | 'paused';
export const PINNED_STATES: readonly PinnedState[] = ['pending', 'warming', 'warm', 'failed', 'paused'];

export interface PinnedImageStatus {
  image: string;
  platforms: readonly string[];
  state: PinnedState;
  /** The upstream it routes to, once routed. */
  upstream?: string;
  /** Digest of what the reference named at the last successful refresh. */
  digest?: string;
  /** Platforms walked at the last successful refresh (of an index). */
  walkedPlatforms?: string[];
  /** Blobs (configs and layers) and their bytes as the manifests state them. */
  blobs: number;
  bytes: number;
  /** Digests kept out of eviction for it (manifests and blobs). */
  pinned: number;
  lastRefresh?: number;
  lastError?: { at: number; message: string };
  nextRefresh?: number;
}

export interface WarmSetDeps {
  entries: readonly PinnedImageConfig[];
  router: UpstreamRouter;
  manifests: ManifestCache;
  blobs: BlobCache;
  provenance: Pick<ContentProvenance, 'recordOrigin'>;
  quota?: Pick<QuotaPolicy, 'status'>;
  locks: ReplicaLocks;
  log: Logger;
  /** Where its metrics are registered (the mirror's /metrics registry). */
  registry: Registry;
  /** Blobs fetched at once per image (docker fetches 3). */
  concurrency?: number;
  now?: () => number;
}

/** Fill slots are counted per client address: the warm set's own. */
export const WARM_SET_ADDRESS = 'pullthrough:warm-set';
const LEASE = 'prefetch:warm';
/** A failed entry is tried again after this long at most (its window, if shorter). */
const RETRY_MS = 60_000;
/** Never loop faster than this, whatever the windows. */
const MIN_DELAY_MS = 250;
/** How long a replica waits for another's refresh cycle before walking anyway. */
const FOLLOW_WAIT_MS = 10 * 60_000;
const FOLLOW_POLL_MS = 500;

interface Entry {
  config: PinnedImageConfig;
  status: PinnedImageStatus;
  /** Digests of the last successful walk: kept even while a later refresh fails (stale is served). */
  digests: ReadonlySet<string>;
  due: number;
}

export class WarmSet {
  private readonly deps: WarmSetDeps;
  private readonly now: () => number;
  private readonly entries: Entry[];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private readonly failures: Counter<'image'>;
  private cycles = 0;

  constructor(deps: WarmSetDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.entries = deps.entries.map((config) => ({
      config,
      status: { image: config.image, platforms: config.platforms, state: 'pending', blobs: 0, bytes: 0, pinned: 0 },
      digests: new Set(),
      due: 0,
    }));
    const entries = this.entries;
    new Gauge({
      name: 'pullthrough_pinned_images',
      help: 'Images of the pinned warm set (config prefetch:) by state: pending, warming, warm, failed, paused (pull quota at its reserve)',
      labelNames: ['state'] as const,
      registers: [deps.registry],
      collect() {
        for (const state of PINNED_STATES) this.set({ state }, entries.filter((e) => e.status.state === state).length);
      },
    });
    new Gauge({
      name: 'pullthrough_pinned_digests',
      help: 'Manifests and blobs kept out of eviction for the pinned warm set',
      registers: [deps.registry],
      collect() {
        this.set(new Set(entries.flatMap((e) => [...e.digests])).size);
      },
    });
    this.failures = new Counter({
      name: 'pullthrough_pinned_refresh_failures_total',
      help: 'Failed refreshes of a pinned image (missing image, upstream down, denied, ...); the others go on',
      labelNames: ['image'] as const,
      registers: [deps.registry],
    });
  }

  /** Starts the first refresh in the background; later ones follow each image's window. */
  start(): void {
    if (this.entries.length === 0) return;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Every digest the listed images are made of, as last walked. */
  pinned(): ReadonlySet<string> {
    const all = new Set<string>();
    for (const entry of this.entries) for (const digest of entry.digests) all.add(digest);
    return all;
  }

  status(): PinnedImageStatus[] {
    return this.entries.map((entry) => ({ ...entry.status, nextRefresh: entry.due }));
  }

  /** Refresh cycles completed (tests wait on it). */
  get completedCycles(): number {
    return this.cycles;
  }

  /** Resolves when no refresh cycle runs (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }

  private schedule(delay: number): void {
    clearTimeout(this.timer);
    if (this.stopping.signal.aborted) return;
    this.timer = setTimeout(() => {
      const run = this.cycle().catch((error: unknown) => this.deps.log.error({ err: error }, 'warm set refresh failed'));
      this.running = run.finally(() => {
        this.running = undefined;
        this.cycles += 1;
        const next = Math.min(...this.entries.map((e) => e.due));
        this.schedule(Math.max(MIN_DELAY_MS, next - this.now()));
      });
    }, delay);
    this.timer.unref();
  }

  /** One refresh of every entry that is due, under the replicas' lease. */
  private async cycle(): Promise<void> {
    const { locks } = this.deps;
    let lease = await locks.tryAcquire(LEASE);
    if (!lease) {
      // Another replica refreshes now: walk after it, from the caches it has just filled.
      const deadline = this.now() + FOLLOW_WAIT_MS;
      while ((await locks.peek(LEASE)).held && this.now() < deadline && !this.stopping.signal.aborted) {
        await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
      }
      lease = await locks.tryAcquire(LEASE);
    }
    try {
      for (const entry of this.entries) {
        if (this.stopping.signal.aborted) return;
        if (entry.due <= this.now()) await this.refresh(entry);
      }
    } finally {
      await lease?.release();
    }
  }

  private async refresh(entry: Entry): Promise<void> {
    const { status } = entry;
    const started = this.now();
    status.state = 'warming';
    let window = RETRY_MS;
    try {
      const image = parseImageReference(entry.config.image);
      const target = this.deps.router.route(image.repository, image.registry ? { ns: image.registry } : {});
      status.upstream = target.upstream.name;
      window = target.upstream.tagTtl;
      // Issue 13, item 2: the rules apply to the warm set too.
      assertRepositoryAllowed(target.upstream, target.repository);
      // Issue 15: no background work at the reserve; resumes when the window resets.
      const quota = await this.deps.quota?.status(target.upstream);
      if (quota && quota.state !== 'open') {
        const resumesAt = quota.limitedUntil ?? quota.resetAt;
        this.pause(entry, resumesAt, `pull quota of ${target.upstream.name} is ${quota.state === 'reserve' ? `at its reserve (${quota.remaining} left)` : quota.state}; paused until the window resets`);
        return;
      }
      const walked = await this.walk(target, image.reference, entry.config.platforms);
      entry.digests = walked.digests;
      Object.assign(status, {
        state: 'warm',
        digest: walked.digest,
        walkedPlatforms: walked.platforms,
        blobs: walked.blobs,
        bytes: walked.bytes,
        pinned: walked.digests.size,
        lastRefresh: this.now(),
      } satisfies Partial<PinnedImageStatus>);
      delete status.lastError;
      entry.due = this.now() + window;
      this.deps.log.info({ image: entry.config.image, digest: walked.digest, blobs: walked.blobs, ms: this.now() - started }, 'warm set image refreshed');
    } catch (error) {
      if (error instanceof QuotaDeferral) {
        this.pause(entry, error.resumesAt, error.message);
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      status.state = 'failed';
      status.lastError = { at: this.now(), message };
      entry.due = this.now() + Math.min(window, RETRY_MS);
      this.failures.inc({ image: entry.config.image });
      this.deps.log.warn({ image: entry.config.image, err: error }, 'warm set image refresh failed');
    }
  }

  private pause(entry: Entry, resumesAt: number, message: string): void {
    entry.status.state = 'paused';
    entry.status.lastError = { at: this.now(), message };
    entry.due = Math.max(resumesAt, this.now() + MIN_DELAY_MS);
    this.deps.log.info({ image: entry.config.image, resumesAt: new Date(resumesAt).toISOString() }, 'warm set image paused: pull quota');
  }

  /** Resolves the reference, then every wanted platform manifest, then fetches every blob not kept. */
  private async walk(target: RouteTarget, reference: string, platforms: readonly string[]): Promise<{ digest: string; digests: Set<string>; platforms: string[]; blobs: number; bytes: number }> {
    const { manifests } = this.deps;
    const top = await manifests.resolve(target, parseManifestReference(reference), { background: true });
    const digests = new Set([top.digest.text]);
    const topBody = await this.body(top);
    const entries = indexEntries(topBody, platforms);
    const images: Array<Record<string, unknown>> = [];
    const walkedPlatforms: string[] = [];
    if (entries) {
      if (entries.length === 0) throw new Error(`no manifest for ${platforms.join(', ')} in the index ${top.digest.text}`);
      for (const child of entries) {
        const digest = parseDigest(child.digest);
        if (!digest) throw new Error(`index ${top.digest.text} names an invalid digest`);
        const resolved = await manifests.resolve(target, { kind: 'digest', digest }, { background: true });
        digests.add(resolved.digest.text);
        images.push(await this.body(resolved));
        walkedPlatforms.push(platformText(child));
      }
    } else {
      images.push(topBody);
    }
    const { blobs } = imageBlobs(images);
    const queue = [...blobs.keys()];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const digest = parseDigest(next);
        if (!digest) throw new Error(`a manifest names an invalid blob digest`);
        await this.fetchBlob(target, digest);
        digests.add(digest.text);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.deps.concurrency ?? 3, Math.max(1, queue.length)) }, worker));
    return { digest: top.digest.text, digests, platforms: walkedPlatforms, blobs: blobs.size, bytes: [...blobs.values()].reduce((a, b) => a + b, 0) };
  }

  private async body(manifest: ManifestAnswer): Promise<Record<string, unknown>> {
    const parsed: unknown = JSON.parse((await this.deps.manifests.read(manifest)).toString('utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`manifest ${manifest.digest.text} is not a JSON object`);
    return parsed as Record<string, unknown>;
  }

  /** A kept blob costs nothing; a missing one is filled (read to its end, so a bad digest shows here). */
  private async fetchBlob(target: RouteTarget, digest: Digest): Promise<void> {
    const source = await this.deps.blobs.source(target, digest, { address: WARM_SET_ADDRESS, signal: this.stopping.signal });
    if (source.outcome !== 'miss') return;
    await this.deps.provenance.recordOrigin(target.upstream.name, digest);
    await pipeline(source.open(), new Writable({ write: (_chunk, _encoding, done) => done() }), { signal: this.stopping.signal });
  }
}
