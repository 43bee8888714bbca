// Keeps the blob store under `storage.maxSize` (and drops what was unused for `storage.maxAge`): a sweep
// lists the kept blobs with their last use (the store's record, see access-recorder.ts), reads which
// blobs each kept manifest names, plans the order (eviction-plan.ts) and removes. It runs on a timer, when a fill
// starts and the store has no room for it, and on demand (`pullthrough gc`).
//
// Fills in flight count against the cap (issue 9: tmp/ did not, and 1.5 GiB landed under a 1 GiB cap).
// The evictor is the fills' DiskRoom (src/storage/disk-room.ts): it keeps the bytes kept (from the last
// sweep's listing plus verified sizes kept since — never an upstream's announced size) and the bytes
// reserved by fills in flight, and admits a fill only if kept + reserved + its size fit under the cap,
// sweeping first if they do not. A fill that still does not fit streams through without being kept; one
// of unannounced size asks for more room before each write and stops being kept when there is none. So
// this process keeps blobs + writes in flight under maxSize; what it cannot see until its next sweep
// (blobs other replicas kept since, a manual copy) is what may take the disk past it.
//
// Deleting under readers: a sweep takes the sweeper lock (sweep-lock.ts) so only one process sweeps; it
// never removes anything used within the grace period (by any replica: the record is in the shared store)
// or pinned by this process, and re-checks it right before each removal. A reader that opened the
// file before the unlink keeps reading it: POSIX unlink removes the name, not the open file. (NFS only
// approximates that across hosts — a "silly rename" protects open files on the client that deletes, not on
// other clients — which is what the grace period is for.)

import type { Logger } from '../logger.ts';
import { parseDigest, type Digest } from '../reference.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { DiskReservation, DiskRoom } from '../storage/disk-room.ts';
import type { AccessRecorder } from './access-recorder.ts';
import { type EvictionCandidate, type PlannedEviction, planEviction } from './eviction-plan.ts';
import { MAX_MANIFEST_BYTES, manifestReferences } from './manifest-references.ts';
import type { SweepLock } from './sweep-lock.ts';

/** What eviction needs of the blob store. */
export type EvictorStore = Pick<BlobStore, 'list' | 'remove' | 'accessedAt' | 'inFlight' | 'open' | 'readAll' | 'sweepOrphans'>;

export interface EvictionMetrics {
  evicted(reason: string, bytes: number): void;
  swept(result: 'done' | 'busy' | 'failed'): void;
}

export interface EvictorOptions {
  store: EvictorStore;
  log: Logger;
  lock: SweepLock;
  maxBytes?: number | undefined;
  maxAgeMs?: number | undefined;
  graceMs: number;
  /** Background sweep period; 0 = no timer. */
  intervalMs: number;
  /**
   * Writes untouched this long belong to writers that died: each sweep (at most every ORPHAN_SWEEP_EVERY_MS)
   * has the store remove them (BlobStore.sweepOrphans), under the sweeper's lease — one process at a time,
   * not a timer per store and replica. Default 10 min.
   */
  orphanAgeMs?: number;
  access?: AccessRecorder;
  metrics?: EvictionMetrics;
  /** Called after each sweep that removed something (e.g. to rescan the cache size). */
  onSwept?: () => void;
  /**
   * Called once per blob or manifest removed, after the unlink: the one place where what is known about
   * that digest elsewhere (e.g. its manifest records in the metadata store) is to be forgotten.
   */
  onEvicted?: (digest: Digest) => void | Promise<void>;
}

/** Orphans of dead writers are looked for at most this often (a listing of the store's temporary area). */
const ORPHAN_SWEEP_EVERY_MS = 5 * 60_000;
const DEFAULT_ORPHAN_AGE_MS = 10 * 60_000;

/** After a sweep that could free nothing, fills stream through without sweeping again for this long. */
const NO_ROOM_RETRY_MS = 5_000;

export interface SweepOptions {
  /** Overrides of the configured limits for this sweep (`pullthrough gc --max-size`). */
  maxBytes?: number | undefined;
  maxAgeMs?: number | undefined;
  /** Plan and report, remove nothing. */
  dryRun?: boolean;
}

export interface SweepReport {
  evicted: PlannedEviction[];
  freedBytes: number;
  bytesBefore: number;
  bytesAfter: number;
  blobsAfter: number;
  /** Bytes of writes in flight (fills), counted against the cap but not evictable. */
  tempBytes: number;
  /** Bytes that would have gone for the cap but were in use (grace period, pinned, named by a kept manifest). */
  protectedBytes: number;
  /** Planned but found in use (or gone) at the last moment. */
  skipped: number;
  durationMs: number;
  dryRun: boolean;
}

export type SweepResult = { status: 'done'; report: SweepReport } | { status: 'busy' };

export class Evictor implements DiskRoom {
  private readonly options: EvictorOptions;
  /** What each kept blob names if it is a manifest (null: not a manifest). Content is immutable: read once. */
  private readonly references = new Map<string, readonly string[] | null>();
  private running: Promise<SweepResult> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  /** Kept bytes as of the last sweep's listing plus verified sizes kept since; undefined before any. */
  private keptBytes: number | undefined;
  /** Verified bytes kept by this process's fills, ever: tells what landed while a sweep was listing. */
  private keptTotal = 0;
  /** Room held by this process's fills in flight (their announced or running sizes). */
  private reservedBytes = 0;
  /** Room asked for by fills waiting on a sweep: the sweep frees enough for them too. */
  private wantedBytes = 0;
  /** When a sweep for room last freed nothing (all in use): no point sweeping again at once. */
  private noRoomSince: number | undefined;
  private stopped = false;
  /** When this process last swept orphans (under the lease). */
  private orphansSweptAt: number | undefined;
  /** Other sources of digests never to evict (issue 13: the configured warm set), asked at each sweep. */
  private readonly keepers: Array<() => ReadonlySet<string>> = [];

  constructor(options: EvictorOptions) {
    this.options = options;
  }

  /** Whether there is a limit to enforce. */
  get enabled(): boolean {
    return this.options.maxBytes !== undefined || this.options.maxAgeMs !== undefined;
  }

  /** Whether sweeps have work even without limits: the store's orphans. */
  private get sweepsOrphans(): boolean {
    return this.options.store.sweepOrphans !== undefined;
  }

  start(): void {
    if (!(this.enabled || this.sweepsOrphans) || this.options.intervalMs <= 0) return;
    this.requestSweep('start');
    this.timer = setInterval(() => this.requestSweep('interval'), this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
    await this.options.access?.flush();
    await this.options.lock.close();
  }

  /** Notes that a kept blob or manifest was served (refreshes its LRU position). */
  recordAccess(digest: Digest): void {
    this.options.access?.record(digest);
  }

  /**
   * Keeps whatever `source` names (asked afresh at every sweep and again right before each removal) out
   * of every sweep of this process: the warm set's images stay while they are listed (issue 13).
   */
  keep(source: () => ReadonlySet<string>): void {
    this.keepers.push(source);
  }

  /** Digests being served here and those kept by a `keep` source. */
  private pinnedNow(): ReadonlySet<string> {
    const pinned = new Set(this.options.access?.pinned() ?? []);
    for (const source of this.keepers) for (const digest of source()) pinned.add(digest);
    return pinned;
  }

  /** Records an access and keeps `digest` from this process's sweeps until the returned function runs. */
  serving(digest: Digest): () => void {
    return this.options.access?.pin(digest) ?? (() => undefined);
  }

  /** Bytes held for fills in flight now (tests, status). */
  get reserved(): number {
    return this.reservedBytes;
  }

  /**
   * Room for a fill of `bytes` (DiskRoom): at once if kept + reserved + bytes fit under the cap, else
   * after a sweep that frees for it (at most two: one already running may have been planned without it),
   * else none — the fill then streams through without being kept.
   */
  async reserve(bytes: number | undefined): Promise<DiskReservation | undefined> {
    const { maxBytes, log } = this.options;
    if (maxBytes === undefined) return this.reservation(bytes ?? 0, Infinity);
    const want = bytes ?? 0;
    for (let attempt = 0; attempt < 2 && !this.fits(want, maxBytes); attempt++) {
      if (this.keptBytes !== undefined && this.noRoomSince !== undefined && Date.now() - this.noRoomSince < NO_ROOM_RETRY_MS) break;
      this.wantedBytes += want;
      try {
        const result = await this.sweep();
        if (result.status === 'busy' && this.keptBytes === undefined) this.keptBytes = await this.measureKept();
      } catch (error) {
        log.warn({ err: error }, 'eviction sweep for a fill failed');
        break;
      } finally {
        this.wantedBytes -= want;
      }
    }
    return this.fits(want, maxBytes) ? this.reservation(want, maxBytes) : undefined;
  }

  private fits(bytes: number, maxBytes: number): boolean {
    return this.keptBytes !== undefined && this.keptBytes + this.reservedBytes + bytes <= maxBytes;
  }

  private reservation(initial: number, maxBytes: number): DiskReservation {
    let held = initial;
    let open = true;
    this.reservedBytes += held;
    const end = (): void => {
      if (!open) return;
      open = false;
      this.reservedBytes -= held;
    };
    return {
      grow: (total) => {
        if (!open) return false;
        if (total <= held) return true;
        // Growing never waits for a sweep (the fill is mid-stream): it fits now or stops being kept.
        if ((this.keptBytes ?? 0) + this.reservedBytes + (total - held) > maxBytes) return false;
        this.reservedBytes += total - held;
        held = total;
        return true;
      },
      kept: (size) => {
        if (!open) return;
        end();
        this.keptTotal += size;
        if (this.keptBytes !== undefined) this.keptBytes += size;
        // Room may have been made for it while others were in use: anything over the cap goes now.
        this.noRoomSince = undefined;
        if (this.keptBytes !== undefined && maxBytes !== Infinity && this.keptBytes > maxBytes) this.requestSweep('fill');
      },
      release: end,
    };
  }

  /** Kept bytes by listing the store, when another process holds the sweep lock and none is known yet. */
  private async measureKept(): Promise<number> {
    let total = 0;
    for await (const blob of this.options.store.list()) total += blob.size;
    return total;
  }

  /** Starts a background sweep, or one more after the running one. */
  requestSweep(trigger: string): void {
    if (this.stopped || !(this.enabled || this.sweepsOrphans)) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.sweep().then(
      (result) => {
        if (result.status === 'done' && result.report.evicted.length > 0) {
          const { report } = result;
          this.options.log.info(
            { trigger, evicted: report.evicted.length, freedBytes: report.freedBytes, bytesAfter: report.bytesAfter, ms: report.durationMs },
            'eviction sweep',
          );
        }
      },
      (error: unknown) => this.options.log.error({ err: error, trigger }, 'eviction sweep failed'),
    );
  }

  /** Resolves once no sweep is running or queued (tests, and a clean shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }

  /** Sweeps now (or joins the running sweep, when no overrides are given). */
  sweep(overrides: SweepOptions = {}): Promise<SweepResult> {
    const plain = overrides.maxBytes === undefined && overrides.maxAgeMs === undefined && !overrides.dryRun;
    if (this.running && plain) return this.running;
    const run = (this.running ?? Promise.resolve(undefined))
      .catch(() => undefined)
      .then(() => this.sweepLocked(overrides));
    const tracked = run.finally(() => {
      if (this.running === tracked) this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.requestSweep('again');
      }
    });
    this.running = tracked;
    return tracked;
  }

  private async sweepLocked(overrides: SweepOptions): Promise<SweepResult> {
    const { lock, metrics } = this.options;
    const lease = await lock.tryAcquire().catch((error: unknown) => {
      metrics?.swept('failed');
      throw error;
    });
    if (!lease) {
      metrics?.swept('busy');
      return { status: 'busy' };
    }
    try {
      if (!overrides.dryRun) await this.sweepOrphans();
      const report = await this.sweepOnce(overrides, () => lease.lost);
      metrics?.swept('done');
      return { status: 'done', report };
    } catch (error) {
      metrics?.swept('failed');
      throw error;
    } finally {
      await lease.release();
    }
  }

  private async sweepOnce(overrides: SweepOptions, leaseLost: () => boolean): Promise<SweepReport> {
    const { store, log, metrics, graceMs } = this.options;
    const started = Date.now();
    const maxBytes = overrides.maxBytes ?? this.options.maxBytes;
    const maxAgeMs = overrides.maxAgeMs ?? this.options.maxAgeMs;
    if (maxBytes === undefined && maxAgeMs === undefined) {
      // No limits: the sweep was for orphans only, nothing to list or plan.
      const empty = { evicted: [], freedBytes: 0, bytesBefore: 0, bytesAfter: 0, blobsAfter: 0, tempBytes: 0, protectedBytes: 0, skipped: 0 };
      return { ...empty, durationMs: Date.now() - started, dryRun: overrides.dryRun ?? false };
    }
    const candidates: EvictionCandidate[] = [];
    const seen = new Set<string>();
    // Fills kept while the listing runs may or may not be in it: count them again rather than miss them.
    const keptBeforeListing = this.keptTotal;
    for await (const blob of store.list()) {
      seen.add(blob.digest.text);
      const references = await this.referencesOf(blob.digest, blob.size);
      candidates.push({ digest: blob.digest.text, size: blob.size, accessedAt: blob.accessedAt, ...(references && { references }) });
    }
    for (const digest of this.references.keys()) if (!seen.has(digest)) this.references.delete(digest);
    const tempBytes = (await store.inFlight()).bytes;
    const pinned = this.pinnedNow();
    const plan = planEviction(candidates, {
      ...(maxBytes !== undefined && { maxBytes }),
      ...(maxAgeMs !== undefined && { maxAgeMs }),
      graceMs,
      now: started,
      // Fills in flight and those waiting for room count against the cap (issue 9). The store's writes in
      // flight include other replicas' fills; this process's reservations may be ahead of what they hold.
      extraBytes: Math.max(tempBytes, this.reservedBytes) + this.wantedBytes,
      pinned,
    });

    const evicted: PlannedEviction[] = [];
    let skipped = 0;
    for (const planned of plan.evict) {
      if (overrides.dryRun) {
        evicted.push(planned);
        continue;
      }
      if (leaseLost()) {
        log.warn('eviction lock lost mid-sweep, stopping');
        break;
      }
      const digest = parseDigest(planned.digest);
      if (!digest) continue;
      // Used since the listing (by any replica), or being served here: keep it.
      const modified = await store.accessedAt(digest);
      if (modified === undefined || Date.now() - modified < graceMs || this.pinnedNow().has(planned.digest)) {
        skipped += 1;
        continue;
      }
      await store.remove(digest);
      this.references.delete(planned.digest);
      evicted.push(planned);
      metrics?.evicted(planned.reason, planned.size);
      log.debug({ digest: planned.digest, size: planned.size, reason: planned.reason }, 'evicted');
      await this.forget(digest);
    }
    const freedBytes = evicted.reduce((sum, e) => sum + e.size, 0);
    const bytesAfter = plan.bytesBefore - freedBytes;
    if (!overrides.dryRun) {
      this.keptBytes = bytesAfter + (this.keptTotal - keptBeforeListing);
      // Wanted room and none could be freed (everything in use): fills stream through for a while.
      this.noRoomSince = this.wantedBytes > 0 && evicted.length === 0 ? Date.now() : undefined;
    }
    if (maxBytes !== undefined && !overrides.dryRun && bytesAfter + tempBytes > maxBytes) {
      log.warn({ bytes: bytesAfter, tempBytes, maxBytes, protectedBytes: plan.protectedBytes }, 'store still over its cap: the rest is in use');
    }
    if (freedBytes > 0 && !overrides.dryRun) this.options.onSwept?.();
    return {
      evicted,
      freedBytes,
      bytesBefore: plan.bytesBefore,
      bytesAfter: overrides.dryRun ? plan.bytesBefore : bytesAfter,
      blobsAfter: candidates.length - (overrides.dryRun ? 0 : evicted.length),
      tempBytes,
      protectedBytes: plan.protectedBytes,
      skipped,
      durationMs: Date.now() - started,
      dryRun: overrides.dryRun ?? false,
    };
  }

  /** Has the store remove what dead writers left (called holding the sweeper's lease). */
  private async sweepOrphans(): Promise<void> {
    const { store, log } = this.options;
    if (!store.sweepOrphans || this.stopped) return;
    if (this.orphansSweptAt !== undefined && Date.now() - this.orphansSweptAt < ORPHAN_SWEEP_EVERY_MS) return;
    this.orphansSweptAt = Date.now();
    try {
      const removed = await store.sweepOrphans(this.options.orphanAgeMs ?? DEFAULT_ORPHAN_AGE_MS);
      if (Object.values(removed).some((count) => count > 0)) log.info({ removed }, 'removed what dead writers left');
    } catch (error) {
      // Eviction goes on: an orphan costs room, not correctness.
      log.warn({ err: error }, 'orphan sweep failed');
    }
  }

  private async forget(digest: Digest): Promise<void> {
    try {
      await this.options.onEvicted?.(digest);
    } catch (error) {
      this.options.log.warn({ err: error, digest: digest.text }, 'forgetting an evicted digest failed');
    }
  }

  /** What a kept blob names if it is a manifest; reads at most one byte of anything that is not JSON. */
  private async referencesOf(digest: Digest, size: number): Promise<readonly string[] | undefined> {
    const known = this.references.get(digest.text);
    if (known !== undefined) return known ?? undefined;
    let found: readonly string[] | null = null;
    if (size > 0 && size <= MAX_MANIFEST_BYTES) {
      try {
        const { store } = this.options;
        // Manifests are written compactly or indented, but always start with their object.
        if ((await firstByte(store, digest)) === 0x7b) {
          const bytes = await store.readAll(digest);
          if (!bytes) return undefined;
          found = manifestReferences(bytes) ?? null;
        }
      } catch {
        // Gone since the listing: it will not be a candidate next time either.
        return undefined;
      }
    }
    this.references.set(digest.text, found);
    return found ?? undefined;
  }
}

/** The first byte of a kept blob; undefined if it is empty or gone. */
async function firstByte(store: Pick<BlobStore, 'open'>, digest: Digest): Promise<number | undefined> {
  const stream = store.open(digest, { start: 0, end: 0 });
  try {
    for await (const chunk of stream) return (chunk as Buffer)[0];
    return undefined;
  } finally {
    stream.destroy();
  }
}
