// The status page's headline counters kept across restarts (issue 12, item 15: hit ratio, bytes saved and
// pulls saved started over at every restart — the numbers people show their boss). This process's figures
// (the Prometheus counters, which stay per process as Prometheus expects) are added to the metadata store
// every FLUSH_MS and on close, so a crash loses seconds at most.
//
// Replicas sharing Redis must add, not overwrite: each takes a slot (a lease on `stats-slot:<n>`, renewed
// while it runs) and is the only writer of that slot's record, to which it adds its increments; the totals
// are the sum over all slots. A restarted process takes any free slot and adds to what is there. With
// Redis unreachable no slot is taken and the increments wait for the next flush.

import type { Logger } from '../logger.ts';
import type { MetadataStore, StatsRecord } from '../metadata/metadata-store.ts';
import type { HeldLease } from '../leases/lease.ts';
import type { ReplicaLocks } from '../replicas/replica-locks.ts';

export const STAT_NAMES = ['fromCache', 'misses', 'bytesFromCache', 'bytesFromUpstream', 'pullsSaved', 'upstreamPulls'] as const;
export type StatCounts = Record<(typeof STAT_NAMES)[number], number>;

export interface PersistedTotals extends StatCounts {
  /** When counting began (ms since epoch): the oldest slot's first count. */
  since: number;
}

/** How many replicas can each hold a slot; one beyond them waits for a slot to come free. */
export const STATS_SLOTS = 32;
const FLUSH_MS = 10_000;
const SLOT_LEASE_MS = 60_000;

export interface PersistedStatsDeps {
  metadata: Pick<MetadataStore, 'getStats' | 'setStats'>;
  locks: Pick<ReplicaLocks, 'tryAcquire'>;
  /** This process's figures since it started. */
  current: () => Promise<StatCounts>;
  log: Logger;
  flushMs?: number;
}

export class PersistedStats {
  private readonly deps: PersistedStatsDeps;
  private readonly startedAt = Date.now();
  /** This process's figures as of the last successful flush. */
  private flushed: StatCounts = zero();
  private slot: { index: number; lease: HeldLease } | undefined;
  /** Flushes and reads one at a time, so a read never counts a flush's increments twice. */
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  /** The slots as last read, for when the store cannot be read (Redis restarting). */
  private lastRecords: Array<StatsRecord | undefined> = [];

  constructor(deps: PersistedStatsDeps) {
    this.deps = deps;
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.deps.flushMs ?? FLUSH_MS);
    this.timer.unref();
  }

  /** Adds what was counted since the last flush to this process's slot. */
  flush(): Promise<void> {
    return this.serially(() => this.flushNow());
  }

  /** Persisted totals of every replica, plus what this process has not flushed yet. */
  totals(): Promise<PersistedTotals> {
    return this.serially(async () => {
      const read = await this.deps.metadata.getStats(STATS_SLOTS);
      const records = read.length === STATS_SLOTS ? (this.lastRecords = read) : this.lastRecords;
      const unflushed = subtract(await this.deps.current(), this.flushed);
      const totals: PersistedTotals = { ...unflushed, since: this.startedAt };
      for (const record of records) {
        if (!record) continue;
        totals.since = Math.min(totals.since, record.since);
        for (const name of STAT_NAMES) totals[name] += record.counts[name] ?? 0;
      }
      return totals;
    });
  }

  /** Flushes a last time and gives up the slot. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    await this.slot?.lease.release();
    this.slot = undefined;
  }

  private async flushNow(): Promise<void> {
    const current = await this.deps.current();
    const delta = subtract(current, this.flushed);
    if (STAT_NAMES.every((name) => delta[name] === 0)) return;
    const slot = await this.claim();
    if (!slot) return;
    const records = await this.deps.metadata.getStats(STATS_SLOTS);
    // Unreadable now: writing would replace the slot's history with this delta alone.
    if (records.length !== STATS_SLOTS) return;
    const own = records[slot.index];
    const counts = { ...zero(), ...own?.counts };
    for (const name of STAT_NAMES) counts[name] += delta[name];
    const record: StatsRecord = { since: own?.since ?? this.startedAt, counts };
    if (await this.deps.metadata.setStats(slot.index, record)) this.flushed = current;
  }

  private async claim(): Promise<{ index: number; lease: HeldLease } | undefined> {
    if (this.slot && !this.slot.lease.lost) return this.slot;
    this.slot = undefined;
    for (let index = 0; index < STATS_SLOTS; index++) {
      try {
        const lease = await this.deps.locks.tryAcquire(`stats-slot:${index}`, { leaseMs: SLOT_LEASE_MS, whenUnavailable: 'throw' });
        if (lease) return (this.slot = { index, lease });
      } catch (error) {
        this.deps.log.warn({ err: error }, 'stats not saved now (no slot lease), will retry');
        return undefined;
      }
    }
    this.deps.log.warn({ slots: STATS_SLOTS }, 'stats not saved now: every slot is taken by another replica');
    return undefined;
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

function zero(): StatCounts {
  return { fromCache: 0, misses: 0, bytesFromCache: 0, bytesFromUpstream: 0, pullsSaved: 0, upstreamPulls: 0 };
}

function subtract(a: StatCounts, b: StatCounts): StatCounts {
  const result = zero();
  for (const name of STAT_NAMES) result[name] = a[name] - b[name];
  return result;
}
