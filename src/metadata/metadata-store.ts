// Metadata kept in Keyv: what a tag pointed at and when that was last checked, each manifest's media
// type as each upstream served it, and which upstreams each kept digest came from. It is a cache of
// upstream answers; the blob store stays the truth for content. So a metadata backend that is slow or
// down (Redis restarting) must never hang a pull: every call is bounded and a failure reads as "not
// known" (the request then goes upstream) or as a write skipped.
//
// Issue 9: tag records expire after metadata.tagRecordTtl (each revalidation rewrites the record, so a
// tag in use never does); manifest records and origins are forgotten with the digest (forgetDigest,
// called when eviction removes it). Manifest records are per (upstream, digest): one upstream's answer
// never changes how another upstream's route serves that digest.

import { randomUUID } from 'node:crypto';
import type Keyv from 'keyv';
import type { Logger } from '../logger.ts';
import type { CachedToken } from '../upstream/token-cache.ts';
import type { QuotaRecord } from '../upstream/quota-view.ts';

export interface TagRecord {
  digest: string;
  mediaType: string;
  size: number;
  /** When the upstream last confirmed this answer (ms since epoch). */
  checkedAt: number;
}

export interface ManifestRecord {
  mediaType: string;
}

/**
 * The upstream's last answer to a referrers listing (issue 13): a verified OCI image index (its exact
 * bytes, base64) or `unsupported` (it answered 404: no referrers API, clients use the tag schema).
 */
export type ReferrersRecord =
  | { kind: 'index'; body: string; etag?: string; filtersApplied: boolean; checkedAt: number }
  | { kind: 'unsupported'; checkedAt: number };

/** An upstream's "does not exist", remembered until `until` (ms since the epoch). */
export interface AbsenceRecord {
  /** The code the mirror answered with, so a remembered answer is the same envelope as the first. */
  code: 'MANIFEST_UNKNOWN' | 'NAME_UNKNOWN';
  until: number;
}

/**
 * The catalog index (issue 12, item 12): Keyv lists nothing across backends, so each upstream has one
 * record naming its cached repositories, and each repository one naming its tags. Written when a tag
 * record is, bounded, and expiring like tag records: an entry may outlive its tag record (a reader
 * treats the index as what was cached, and checks the store for what still is).
 */
export interface IndexedTag {
  tag: string;
  digest: string;
  mediaType: string;
  /** The manifest's own size. */
  size: number;
  /** Last time the tag was fetched or revalidated (ms since epoch): its last use, to within its freshness window. */
  usedAt: number;
}

export interface IndexedRepository {
  repository: string;
  usedAt: number;
}

/** One replica slot's share of the persisted counters (issue 12, item 15). */
export interface StatsRecord {
  /** When this slot first counted (ms since epoch). */
  since: number;
  counts: Record<string, number>;
}

export interface MetadataStoreOptions {
  /** Tag records not rewritten for this long expire (ms); absent = never (tests, CLI tools). */
  tagRecordTtl?: number;
}

const OPERATION_TIMEOUT_MS = 1500;
/** Bounds of the catalog index: the least recently used entries go first. */
const INDEX_MAX_REPOSITORIES = 5000;
const INDEX_MAX_TAGS = 500;
/** A repository's entry is rewritten at most this often (its tags record holds the exact times). */
const INDEX_REPOSITORY_REFRESH_MS = 60 * 60_000;
const PROBE_TTL_MS = 60_000;
/**
 * Manifest records remembered in this process too: they never change once written, and a kept manifest
 * stays servable by digest while Redis is down (the filesystem is the truth for content). Bounded.
 */
const LOCAL_MANIFEST_RECORDS = 10_000;

export class MetadataStore {
  private readonly keyv: Keyv;
  private readonly log: Logger;
  private readonly probeKey = `readyz:${randomUUID()}`;
  private readonly tagRecordTtl: number | undefined;
  private readonly localManifests = new Map<string, ManifestRecord>();

  constructor(keyv: Keyv, log: Logger, options: MetadataStoreOptions = {}) {
    this.keyv = keyv;
    this.log = log;
    this.tagRecordTtl = options.tagRecordTtl;
    // Keyv re-emits backend errors (e.g. Redis connection loss); without a listener they would crash.
    keyv.on('error', (error: unknown) => this.log.warn({ err: error }, 'metadata store error'));
  }

  getTag(upstream: string, repository: string, tag: string): Promise<TagRecord | undefined> {
    return this.bounded('get tag', this.keyv.get<TagRecord>(tagKey(upstream, repository, tag)));
  }

  async setTag(upstream: string, repository: string, tag: string, record: TagRecord): Promise<void> {
    await this.bounded('set tag', this.keyv.set(tagKey(upstream, repository, tag), record, this.tagRecordTtl));
    await this.indexTag(upstream, repository, { tag, digest: record.digest, mediaType: record.mediaType, size: record.size, usedAt: Date.now() });
  }

  async deleteTag(upstream: string, repository: string, tag: string): Promise<void> {
    await this.bounded('delete tag', this.keyv.delete(tagKey(upstream, repository, tag)));
    await this.indexTag(upstream, repository, undefined, tag);
  }

  /** Cached repositories of an upstream (the catalog index), most recently used first. */
  async listRepositories(upstream: string): Promise<IndexedRepository[]> {
    const entries = this.liveEntries((await this.bounded('get catalog', this.keyv.get<Record<string, number>>(catalogKey(upstream)))) ?? {});
    return entries.map(([repository, usedAt]) => ({ repository, usedAt }));
  }

  /** Cached tags of a repository (the catalog index), most recently used first. */
  async listTags(upstream: string, repository: string): Promise<IndexedTag[]> {
    const record = (await this.bounded('get catalog tags', this.keyv.get<Record<string, Omit<IndexedTag, 'tag'>>>(catalogTagsKey(upstream, repository)))) ?? {};
    const cutoff = this.tagRecordTtl === undefined ? 0 : Date.now() - this.tagRecordTtl;
    return Object.entries(record)
      .filter(([, entry]) => entry.usedAt > cutoff)
      .map(([tag, entry]) => ({ tag, ...entry }))
      .sort((a, b) => b.usedAt - a.usedAt);
  }

  /** Every replica slot's persisted counters (undefined where a slot never counted); empty when unreadable now. */
  async getStats(slots: number): Promise<Array<StatsRecord | undefined>> {
    const keys = Array.from({ length: slots }, (_, slot) => statsKey(slot));
    return (await this.bounded('get stats', this.keyv.getMany<StatsRecord>(keys))) ?? [];
  }

  /** Only the holder of the slot's lease writes it (src/observability/persisted-stats.ts). */
  async setStats(slot: number, record: StatsRecord): Promise<boolean> {
    return (await this.bounded('set stats', this.keyv.set(statsKey(slot), record))) === true;
  }

  /** The referrers answer for (upstream, repository, subject, artifactType filter or none). */
  getReferrers(upstream: string, repository: string, subject: string, artifactType: string | undefined): Promise<ReferrersRecord | undefined> {
    return this.bounded('get referrers', this.keyv.get<ReferrersRecord>(referrersKey(upstream, repository, subject, artifactType)));
  }

  /** Expires like a tag record (metadata.tagRecordTtl): each revalidation rewrites it. */
  async setReferrers(upstream: string, repository: string, subject: string, artifactType: string | undefined, record: ReferrersRecord): Promise<void> {
    await this.bounded('set referrers', this.keyv.set(referrersKey(upstream, repository, subject, artifactType), record, this.tagRecordTtl));
  }

  /** How `upstream` served `digest` when it was fetched (or confirmed) from there as a manifest. */
  async getManifest(upstream: string, digest: string): Promise<ManifestRecord | undefined> {
    const key = manifestKey(upstream, digest);
    const local = this.localManifests.get(key);
    if (local) return local;
    const record = await this.bounded('get manifest', this.keyv.get<ManifestRecord>(key));
    if (record) this.rememberLocally(key, record);
    return record;
  }

  async setManifest(upstream: string, digest: string, record: ManifestRecord): Promise<void> {
    const key = manifestKey(upstream, digest);
    this.rememberLocally(key, record);
    await this.bounded('set manifest', this.keyv.set(key, record));
  }

  /**
   * A per-digest record written by versions before issue 9, for all upstreams at once. Read only (the
   * caller decides whether to trust it); never written any more.
   */
  getLegacyManifest(digest: string): Promise<ManifestRecord | undefined> {
    return this.bounded('get manifest', this.keyv.get<ManifestRecord>(`manifest:${digest}`));
  }

  /** The upstreams a digest was fetched from or confirmed by; undefined when nothing is recorded. */
  getOrigins(digest: string): Promise<string[] | undefined> {
    return this.bounded('get origins', this.keyv.get<string[]>(originsKey(digest)));
  }

  /**
   * Adds `upstream` to the digest's origins. Read, then write: two replicas adding at once may lose one
   * name, which costs a later confirmation but never grants anything (every name kept is a true origin).
   */
  async addOrigin(digest: string, upstream: string): Promise<string[]> {
    const known = (await this.getOrigins(digest)) ?? [];
    if (known.includes(upstream)) return known;
    const origins = [...known, upstream];
    await this.bounded('set origins', this.keyv.set(originsKey(digest), origins));
    return origins;
  }

  /** Forgets what is known of a digest (its manifest records and origins): for eviction, once it is removed. */
  async forgetDigest(digest: string): Promise<void> {
    const origins = (await this.getOrigins(digest)) ?? [];
    const keys = [...origins.map((upstream) => manifestKey(upstream, digest)), `manifest:${digest}`, originsKey(digest)];
    for (const key of keys) this.localManifests.delete(key);
    await this.bounded('forget digest', this.keyv.deleteMany(keys));
  }

  /**
   * What an upstream said does not exist (issue 13, item 5), per (upstream, repository, tag or digest),
   * shared by replicas and kept `ttl` ms. Expired records read as absent even where the backend keeps
   * them a little longer.
   */
  async getAbsence(upstream: string, repository: string, reference: string, now = Date.now()): Promise<AbsenceRecord | undefined> {
    const record = await this.bounded('get absence', this.keyv.get<AbsenceRecord>(absenceKey(upstream, repository, reference)));
    return record && record.until > now ? record : undefined;
  }

  async setAbsence(upstream: string, repository: string, reference: string, record: AbsenceRecord, ttl: number): Promise<void> {
    if (ttl > 0) await this.bounded('set absence', this.keyv.set(absenceKey(upstream, repository, reference), record, ttl));
  }

  /** Upstream tokens shared by replicas, kept only as long as they are valid. */
  getToken(upstream: string, scope: string): Promise<CachedToken | undefined> {
    return this.bounded('get token', this.keyv.get<CachedToken>(`token:${upstream}:${scope}`));
  }

  async setToken(upstream: string, scope: string, token: CachedToken): Promise<void> {
    const ttl = token.expiresAt - Date.now();
    if (ttl > 0) await this.bounded('set token', this.keyv.set(`token:${upstream}:${scope}`, token, ttl));
  }

  /** An upstream's pull quota as last seen (issue 15, src/upstream/quota-view.ts), shared by replicas. */
  getQuota(key: string): Promise<QuotaRecord | undefined> {
    return this.bounded('get quota', this.keyv.get<QuotaRecord>(key));
  }

  async setQuota(key: string, record: QuotaRecord, ttl: number): Promise<void> {
    await this.bounded('set quota', this.keyv.set(key, record, ttl));
  }

  /**
   * Reachable and answering, for readiness checks. A write read back, because Keyv turns a backend error
   * into "not found" (a plain get of a missing key reads the same whether Redis is up or down). The key
   * is this process's own, so replicas sharing a Redis never read each other's probe.
   */
  async ping(): Promise<boolean> {
    const nonce = randomUUID();
    try {
      await withTimeout(this.keyv.set(this.probeKey, nonce, PROBE_TTL_MS), OPERATION_TIMEOUT_MS);
      return (await withTimeout(this.keyv.get<string>(this.probeKey), OPERATION_TIMEOUT_MS)) === nonce;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.keyv.disconnect();
  }

  /**
   * Adds (or with `removed`, drops) a tag in the catalog index. Read, then write: two replicas indexing
   * at once may lose an entry, which the next revalidation of that tag puts back.
   */
  private async indexTag(upstream: string, repository: string, entry: IndexedTag | undefined, removed?: string): Promise<void> {
    const tagsKey = catalogTagsKey(upstream, repository);
    const tags = { ...((await this.bounded('get catalog tags', this.keyv.get<Record<string, Omit<IndexedTag, 'tag'>>>(tagsKey))) ?? {}) };
    if (removed !== undefined) {
      if (!(removed in tags)) return;
      delete tags[removed];
    }
    if (entry) {
      const { tag, ...rest } = entry;
      tags[tag] = rest;
    }
    const kept = Object.fromEntries(
      this.liveEntries(Object.fromEntries(Object.entries(tags).map(([tag, value]) => [tag, value.usedAt])))
        .slice(0, INDEX_MAX_TAGS)
        .map(([tag]) => [tag, tags[tag] as Omit<IndexedTag, 'tag'>]),
    );
    await this.bounded('set catalog tags', this.keyv.set(tagsKey, kept, this.tagRecordTtl));
    if (!entry) return;
    const repositories = (await this.bounded('get catalog', this.keyv.get<Record<string, number>>(catalogKey(upstream)))) ?? {};
    const known = repositories[repository];
    if (known !== undefined && entry.usedAt - known < INDEX_REPOSITORY_REFRESH_MS) return;
    const updated = Object.fromEntries(this.liveEntries({ ...repositories, [repository]: entry.usedAt }).slice(0, INDEX_MAX_REPOSITORIES));
    await this.bounded('set catalog', this.keyv.set(catalogKey(upstream), updated, this.tagRecordTtl));
  }

  /** Name → time entries not older than tagRecordTtl, most recent first. */
  private liveEntries(record: Record<string, number>): Array<[string, number]> {
    const cutoff = this.tagRecordTtl === undefined ? 0 : Date.now() - this.tagRecordTtl;
    return Object.entries(record)
      .filter(([, usedAt]) => usedAt > cutoff)
      .sort((a, b) => b[1] - a[1]);
  }

  private rememberLocally(key: string, record: ManifestRecord): void {
    this.localManifests.delete(key);
    this.localManifests.set(key, record);
    // Oldest first out: a Map iterates in insertion order.
    if (this.localManifests.size > LOCAL_MANIFEST_RECORDS) this.localManifests.delete(this.localManifests.keys().next().value as string);
  }

  private async bounded<T>(operation: string, work: Promise<T | undefined>): Promise<T | undefined> {
    try {
      return await withTimeout(work, OPERATION_TIMEOUT_MS);
    } catch (error) {
      this.log.warn({ err: error, operation }, 'metadata store unavailable');
      return undefined;
    }
  }
}

function absenceKey(upstream: string, repository: string, reference: string): string {
  return `absent:${upstream}:${repository}:${reference}`;
}

function catalogKey(upstream: string): string {
  return `catalog:${upstream}`;
}

function catalogTagsKey(upstream: string, repository: string): string {
  return `catalog-tags:${upstream}:${repository}`;
}

function statsKey(slot: number): string {
  return `stats:${slot}`;
}

function tagKey(upstream: string, repository: string, tag: string): string {
  return `tag:${upstream}:${repository}:${tag}`;
}

/** The filter goes last and is JSON-quoted, so no artifactType can make two keys meet. */
function referrersKey(upstream: string, repository: string, subject: string, artifactType: string | undefined): string {
  return `referrers:${upstream}:${repository}:${subject}:${artifactType === undefined ? '-' : JSON.stringify(artifactType)}`;
}

function manifestKey(upstream: string, digest: string): string {
  return `upstream-manifest:${upstream}:${digest}`;
}

function originsKey(digest: string): string {
  return `origins:${digest}`;
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
