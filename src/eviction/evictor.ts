// Keeps the blob store under `storage.maxSize` (and drops what was unused for `storage.maxAge`): a sweep
// lists the kept blobs with their last use (file mtime, see access-recorder.ts), reads which blobs each
// kept manifest names, plans the order (eviction-plan.ts) and unlinks. It runs on a timer, after a fill
// that pushed the store over the cap, and on demand (`pullthrough gc`).
//
// Deleting under readers: a sweep takes the sweeper lock (sweep-lock.ts) so only one process sweeps; it
// never removes anything used within the grace period (by any replica: the mtime is on the shared volume)
// or pinned by this process, and re-checks the mtime right before each unlink. A reader that opened the
// file before the unlink keeps reading it: POSIX unlink removes the name, not the open file. (NFS only
// approximates that across hosts — a "silly rename" protects open files on the client that deletes, not on
// other clients — which is what the grace period is for.)

import { open, readFile } from 'node:fs/promises';
import type { Logger } from '../logger.ts';
import { parseDigest, type Digest } from '../reference.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { AccessRecorder } from './access-recorder.ts';
import { type EvictionCandidate, type PlannedEviction, planEviction } from './eviction-plan.ts';
import { MAX_MANIFEST_BYTES, manifestReferences } from './manifest-references.ts';
import type { SweepLock } from './sweep-lock.ts';

export interface EvictionMetrics {
  evicted(reason: string, bytes: number): void;
  swept(result: 'done' | 'busy' | 'failed'): void;
}

export interface EvictorOptions {
  store: BlobStore;
  log: Logger;
  lock: SweepLock;
  maxBytes?: number | undefined;
  maxAgeMs?: number | undefined;
  graceMs: number;
  /** Background sweep period; 0 = no timer. */
  intervalMs: number;
  access?: AccessRecorder;
  metrics?: EvictionMetrics;
  /** In-flight fills, to sweep once a fill that pushed the store over the cap has landed. */
  fills?: { get(digest: Digest): { finished: Promise<void> } | undefined };
  /** Called after each sweep that removed something (e.g. to rescan the cache size). */
  onSwept?: () => void;
}

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
  /** Bytes in tmp/ (fills in flight), counted against the cap but not evictable. */
  tempBytes: number;
  /** Bytes that would have gone for the cap but were in use (grace period, pinned, named by a kept manifest). */
  protectedBytes: number;
  /** Planned but found in use (or gone) at the last moment. */
  skipped: number;
  durationMs: number;
  dryRun: boolean;
}

export type SweepResult = { status: 'done'; report: SweepReport } | { status: 'busy' };

export class Evictor {
  private readonly options: EvictorOptions;
  /** What each kept blob names if it is a manifest (null: not a manifest). Content is immutable: read once. */
  private readonly references = new Map<string, readonly string[] | null>();
  private running: Promise<SweepResult> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  /** Store size as of the last sweep plus fills since: decides when a fill triggers a sweep. */
  private estimatedBytes = 0;
  private stopped = false;

  constructor(options: EvictorOptions) {
    this.options = options;
  }

  /** Whether there is a limit to enforce. */
  get enabled(): boolean {
    return this.options.maxBytes !== undefined || this.options.maxAgeMs !== undefined;
  }

  start(): void {
    if (!this.enabled || this.options.intervalMs <= 0) return;
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

  /** Records an access and keeps `digest` from this process's sweeps until the returned function runs. */
  serving(digest: Digest): () => void {
    return this.options.access?.pin(digest) ?? (() => undefined);
  }

  /** A fill of `size` bytes started: sweep once it lands if that takes the store over the cap. */
  noteFill(digest: Digest, size: number | undefined): void {
    const { maxBytes, fills } = this.options;
    if (maxBytes === undefined) return;
    this.estimatedBytes += size ?? 0;
    if (this.estimatedBytes <= maxBytes) return;
    const landed = fills?.get(digest)?.finished ?? Promise.resolve();
    landed.catch(() => undefined).then(() => this.requestSweep('fill'));
  }

  /** Starts a background sweep, or one more after the running one. */
  requestSweep(trigger: string): void {
    if (this.stopped || !this.enabled) return;
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
    const { store, log, access, metrics, graceMs } = this.options;
    const started = Date.now();
    const maxBytes = overrides.maxBytes ?? this.options.maxBytes;
    const maxAgeMs = overrides.maxAgeMs ?? this.options.maxAgeMs;
    const candidates: EvictionCandidate[] = [];
    const seen = new Set<string>();
    for await (const blob of store.list()) {
      seen.add(blob.digest.text);
      const references = await this.referencesOf(blob.digest, blob.size);
      candidates.push({ digest: blob.digest.text, size: blob.size, accessedAt: blob.mtimeMs, ...(references && { references }) });
    }
    for (const digest of this.references.keys()) if (!seen.has(digest)) this.references.delete(digest);
    const tempBytes = await store.tempBytes();
    const pinned = access?.pinned() ?? new Set<string>();
    const plan = planEviction(candidates, {
      ...(maxBytes !== undefined && { maxBytes }),
      ...(maxAgeMs !== undefined && { maxAgeMs }),
      graceMs,
      now: started,
      extraBytes: tempBytes,
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
      const modified = await store.modifiedAt(digest);
      if (modified === undefined || Date.now() - modified < graceMs || access?.pinned().has(planned.digest)) {
        skipped += 1;
        continue;
      }
      await store.remove(digest);
      this.references.delete(planned.digest);
      evicted.push(planned);
      metrics?.evicted(planned.reason, planned.size);
      log.debug({ digest: planned.digest, size: planned.size, reason: planned.reason }, 'evicted');
    }
    const freedBytes = evicted.reduce((sum, e) => sum + e.size, 0);
    const bytesAfter = plan.bytesBefore - freedBytes;
    this.estimatedBytes = bytesAfter + tempBytes;
    if (maxBytes !== undefined && bytesAfter + tempBytes > maxBytes) {
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

  /** What a kept blob names if it is a manifest; reads at most one byte of anything that is not JSON. */
  private async referencesOf(digest: Digest, size: number): Promise<readonly string[] | undefined> {
    const known = this.references.get(digest.text);
    if (known !== undefined) return known ?? undefined;
    let found: readonly string[] | null = null;
    if (size > 0 && size <= MAX_MANIFEST_BYTES) {
      try {
        const file = this.options.store.pathFor(digest);
        const handle = await open(file, 'r');
        const first = Buffer.alloc(1);
        try {
          await handle.read(first, 0, 1, 0);
        } finally {
          await handle.close();
        }
        // Manifests are written compactly or indented, but always start with their object.
        if (first[0] === 0x7b) found = manifestReferences(await readFile(file)) ?? null;
      } catch {
        // Gone since the listing: it will not be a candidate next time either.
        return undefined;
      }
    }
    this.references.set(digest.text, found);
    return found ?? undefined;
  }
}
