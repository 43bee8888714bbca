// Last use kept in the metadata store, for stores that cannot keep it themselves (issue 10: "the LRU
// order and sizes live in the metadata store, not in object mtimes"). An S3 object cannot change its
// modification time, and rewriting its metadata to record a use would copy the object; a map in one
// process's memory is lost on restart and unseen by the other replicas. So the eviction's view of such a
// store reads last use from the metadata store (Redis for replicas, the embedded log for one node) and
// records uses there.
//
// It stays cheap: the access recorder already records a blob at most once per throttle window; recorded
// uses are buffered here and written in one setMany per flush (every `flushMs`, at `maxPending` uses, and
// on close), and a sweep reads them with one getMany per page of the listing. A use recorded by this
// process but not yet flushed still counts (the pending map is consulted first).

import type Keyv from 'keyv';
import type { Logger } from '../logger.ts';
import type { Digest } from '../reference.ts';
import type { BlobStore, KeptBlob, OrphanReport } from '../storage/blob-store.ts';
import type { EvictorStore } from './evictor.ts';

/** Where last uses are kept: a small interface over the metadata store. */
export interface LastUseRecords {
  /** Last use (ms) of each digest, in order; undefined where none is recorded. */
  get(digests: readonly string[]): Promise<Array<number | undefined>>;
  set(entries: ReadonlyArray<readonly [string, number]>): Promise<void>;
  forget(digest: string): Promise<void>;
}

const KEY_PREFIX = 'lastuse:';

/** Last uses as Keyv entries `lastuse:<digest>` → ms, with no expiry (removed with the blob). */
export function keyvLastUse(keyv: Keyv): LastUseRecords {
  return {
    async get(digests) {
      if (digests.length === 0) return [];
      const values = await keyv.getMany<number>(digests.map((digest) => KEY_PREFIX + digest));
      return values.map((value) => (typeof value === 'number' ? value : undefined));
    },
    async set(entries) {
      if (entries.length === 0) return;
      await keyv.setMany(entries.map(([digest, at]) => ({ key: KEY_PREFIX + digest, value: at })));
    },
    async forget(digest) {
      await keyv.delete(KEY_PREFIX + digest);
    },
  };
}

export type AccessStore = EvictorStore & Pick<BlobStore, 'touch'>;

/** How many listed blobs are looked up in one getMany. */
const LIST_BATCH = 500;

export interface PersistedAccessOptions {
  /** Recorded uses are written at most this long after they happen (default 5 s). */
  flushMs?: number;
  /** Or as soon as this many are waiting (default 500). */
  maxPending?: number;
}

/** The eviction's view of a store whose last uses live in the metadata store. */
export class PersistedAccessStore implements AccessStore {
  private readonly store: AccessStore;
  private readonly records: LastUseRecords;
  private readonly log: Logger;
  private readonly flushMs: number;
  private readonly maxPending: number;
  /** Uses recorded and not yet written, by digest. */
  private pending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  readonly sweepOrphans?: (olderThanMs: number) => Promise<OrphanReport>;

  constructor(store: AccessStore, records: LastUseRecords, log: Logger, options: PersistedAccessOptions = {}) {
    this.store = store;
    const sweepOrphans = store.sweepOrphans?.bind(store);
    if (sweepOrphans) this.sweepOrphans = sweepOrphans;
    this.records = records;
    this.log = log;
    this.flushMs = options.flushMs ?? 5_000;
    this.maxPending = options.maxPending ?? 500;
  }

  list(): AsyncIterable<KeptBlob> {
    return this.withLastUse(this.store.list());
  }

  private async *withLastUse(blobs: AsyncIterable<KeptBlob>): AsyncGenerator<KeptBlob> {
    let batch: KeptBlob[] = [];
    const drain = async (): Promise<KeptBlob[]> => {
      const recorded = await this.lookUp(batch.map((blob) => blob.digest.text));
      const out = batch.map((blob, i) => ({ ...blob, accessedAt: Math.max(blob.accessedAt, recorded[i] ?? 0) }));
      batch = [];
      return out;
    };
    for await (const blob of blobs) {
      batch.push(blob);
      if (batch.length >= LIST_BATCH) yield* await drain();
    }
    if (batch.length > 0) yield* await drain();
  }

  /** Recorded last uses (pending ones first); a metadata store that fails leaves the store's own record. */
  private async lookUp(digests: readonly string[]): Promise<Array<number | undefined>> {
    let stored: Array<number | undefined>;
    try {
      stored = await this.records.get(digests);
    } catch (error) {
      this.log.warn({ err: error }, 'eviction: could not read last uses from the metadata store');
      stored = [];
    }
    return digests.map((digest, i) => {
      const pending = this.pending.get(digest);
      const recorded = stored[i];
      if (pending === undefined) return recorded;
      return recorded === undefined ? pending : Math.max(pending, recorded);
    });
  }

  async accessedAt(digest: Digest): Promise<number | undefined> {
    const own = await this.store.accessedAt(digest);
    if (own === undefined) return undefined;
    const [recorded] = await this.lookUp([digest.text]);
    return Math.max(own, recorded ?? 0);
  }

  async touch(digest: Digest, at: Date = new Date()): Promise<boolean> {
    if (!(await this.store.touch(digest, at))) return false;
    this.pending.set(digest.text, Math.max(this.pending.get(digest.text) ?? 0, at.getTime()));
    if (this.pending.size >= this.maxPending) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
    return true;
  }

  /** Writes the recorded uses now (also before the store goes away). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const entries = [...this.pending];
    if (entries.length === 0) return this.flushing;
    this.pending = new Map();
    const writing = this.flushing.then(() =>
      this.records.set(entries).catch((error: unknown) => {
        this.log.warn({ err: error, uses: entries.length }, 'eviction: could not record last uses in the metadata store');
        // Kept for the next flush, unless a newer use came meanwhile.
        for (const [digest, at] of entries) if ((this.pending.get(digest) ?? 0) < at) this.pending.set(digest, at);
      }),
    );
    this.flushing = writing;
    return writing;
  }

  async remove(digest: Digest): Promise<void> {
    await this.store.remove(digest);
    this.pending.delete(digest.text);
    await this.records.forget(digest.text).catch((error: unknown) => this.log.warn({ err: error, digest: digest.text }, 'eviction: could not forget a last use'));
  }

  inFlight: AccessStore['inFlight'] = () => this.store.inFlight();
  open: AccessStore['open'] = (digest, range) => this.store.open(digest, range);
  readAll: AccessStore['readAll'] = (digest) => this.store.readAll(digest);
}
