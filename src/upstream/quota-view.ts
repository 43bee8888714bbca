// Issue 15: one view of each upstream's pull quota, per credential (Docker Hub counts anonymous pulls per
// address and authenticated pulls per account), shared by replicas through the metadata store.
//
// Docker Hub says `ratelimit-remaining: 76;w=21600` but not when the window began, so the reset is
// estimated: the window starts at the first observation of it (the upstream's true start is earlier, so
// the estimate errs late, never into the limit) and a new one starts when the figures say so (remaining
// went up, the limit changed) or an observation comes after the estimated end. A 429 stops every request
// to the upstream until its Retry-After, else the estimated reset.

import type { RateLimitView } from './rate-limit.ts';

/** What replicas share per (upstream, credential). */
export interface QuotaRecord {
  /** The latest ratelimit-* figures; absent when only a 429 without them was seen. */
  figures?: RateLimitView;
  /** First observation of the current window (ms since the epoch). */
  windowStart?: number;
  /** An upstream 429 seen: nothing is sent to it before this time. */
  limitedUntil?: number;
}

/** The view at a moment: the figures, presumed full again once the estimated reset has passed. */
export interface QuotaSnapshot extends RateLimitView {
  credential: string;
  /** Estimated end of the window (ms since the epoch). */
  resetAt: number;
  /** The window the figures came from has ended: `remaining` is the limit again until the next answer. */
  presumedReset: boolean;
  /** A 429 holds every request until then. */
  limitedUntil?: number;
}

/** Where replicas share records: the metadata store (Redis with replicas, the embedded store otherwise). */
export interface SharedQuotaStore {
  get(key: string): Promise<QuotaRecord | undefined>;
  set(key: string, record: QuotaRecord, ttlMs: number): Promise<void>;
}

/** A window of unknown length (no `w=`): looked at again after a minute. */
const UNKNOWN_WINDOW_S = 60;
/** The shared record is read again at most this often per key. */
const SHARED_READ_MS = 1000;
/** Unchanged figures are written again at most this often (they only move seenAt). */
const REWRITE_MS = 30_000;

/** The credential an upstream's requests count against. */
export function credentialOf(upstream: { username?: string | undefined }): string {
  return upstream.username ?? 'anonymous';
}

export function windowMs(record: QuotaRecord): number {
  return (record.figures?.windowSeconds ?? UNKNOWN_WINDOW_S) * 1000;
}

/** The record after an observation of figures (pure: tested on its own). */
export function observed(previous: QuotaRecord | undefined, view: RateLimitView): QuotaRecord {
  const before = previous?.figures;
  if (previous && before && view.seenAt < before.seenAt) return previous;
  const limitedUntil = previous?.limitedUntil !== undefined && previous.limitedUntil > view.seenAt ? previous.limitedUntil : undefined;
  const start = previous?.windowStart;
  const sameWindow =
    before !== undefined &&
    start !== undefined &&
    view.remaining <= before.remaining &&
    view.limit === before.limit &&
    view.seenAt < start + windowMs({ figures: { ...before, ...(view.windowSeconds !== undefined && { windowSeconds: view.windowSeconds }) } });
  return {
    figures: view,
    windowStart: sameWindow ? start : view.seenAt,
    ...(limitedUntil !== undefined && { limitedUntil }),
  };
}

/** The record after a 429: limited until Retry-After, else the estimated reset, else one window. */
export function limited(previous: QuotaRecord | undefined, now: number, retryAfterSeconds: number | undefined): QuotaRecord {
  const record: QuotaRecord = { ...previous };
  const estimated = record.windowStart !== undefined ? record.windowStart + windowMs(record) : undefined;
  const until =
    retryAfterSeconds !== undefined ? now + retryAfterSeconds * 1000
    : estimated !== undefined && estimated > now ? estimated
    : now + windowMs(record);
  record.limitedUntil = Math.max(until, previous?.limitedUntil ?? 0);
  if (record.figures) record.figures = { ...record.figures, remaining: 0 };
  return record;
}

export function snapshot(record: QuotaRecord, credential: string, now: number): QuotaSnapshot | undefined {
  const { figures } = record;
  if (!figures) return undefined;
  const resetAt = (record.windowStart ?? figures.seenAt) + windowMs(record);
  const presumedReset = now >= resetAt;
  return {
    ...figures,
    remaining: presumedReset ? figures.limit : figures.remaining,
    credential,
    resetAt,
    presumedReset,
    ...(record.limitedUntil !== undefined && record.limitedUntil > now && { limitedUntil: record.limitedUntil }),
  };
}

export class QuotaView {
  private readonly store: SharedQuotaStore | undefined;
  private readonly now: () => number;
  private readonly local = new Map<string, QuotaRecord>();
  private readonly written = new Map<string, number>();
  /** When the shared record of a key was last read. */
  private readonly sharedReadAt = new Map<string, number>();
  private readonly pending = new Set<Promise<void>>();

  constructor(store: SharedQuotaStore | undefined, now: () => number = Date.now) {
    this.store = store;
    this.now = now;
  }

  /** Figures an upstream answer carried: this process knows them at once, replicas once written. */
  observe(upstream: string, credential: string, view: RateLimitView): void {
    const key = quotaKey(upstream, credential);
    const before = this.local.get(key);
    const next = observed(before, view);
    this.local.set(key, next);
    if (!this.changed(before, next) && this.now() - (this.written.get(key) ?? 0) < REWRITE_MS) return;
    this.share(key, (shared) => observed(newest(shared, before), view));
  }

  /** The upstream answered 429; returns until when requests to it are held. */
  limited(upstream: string, credential: string, retryAfterSeconds: number | undefined): number {
    const key = quotaKey(upstream, credential);
    const now = this.now();
    const record = limited(this.local.get(key), now, retryAfterSeconds);
    this.local.set(key, record);
    this.share(key, (shared) => limited(newest(shared, this.local.get(key)), now, retryAfterSeconds));
    return record.limitedUntil as number;
  }

  /** The freshest view this process or any replica has. */
  async current(upstream: string, credential: string): Promise<QuotaSnapshot | undefined> {
    const record = await this.record(upstream, credential);
    return record && snapshot(record, credential, this.now());
  }

  /** Time until which a 429 holds requests to the upstream, if one does. */
  async limitedUntil(upstream: string, credential: string): Promise<number | undefined> {
    const record = await this.record(upstream, credential);
    return record?.limitedUntil !== undefined && record.limitedUntil > this.now() ? record.limitedUntil : undefined;
  }

  /** This process's own latest view, without asking the store. */
  latest(upstream: string, credential: string): QuotaSnapshot | undefined {
    const record = this.local.get(quotaKey(upstream, credential));
    return record && snapshot(record, credential, this.now());
  }

  /** Resolves once the writes begun so far are done (tests, close). */
  async settled(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  private async record(upstream: string, credential: string): Promise<QuotaRecord | undefined> {
    const key = quotaKey(upstream, credential);
    const mine = this.local.get(key);
    // Without replicas the local record is the whole truth (the store only keeps it across restarts). With
    // them, the shared record is read at most once a second per key: this runs before every upstream
    // request, and a metadata round trip each time would cost more than a second's lag in seeing another
    // replica's 429 (review finding).
    const now = this.now();
    const fresh = (this.sharedReadAt.get(key) ?? -Infinity) > now - SHARED_READ_MS;
    if (this.store && !fresh) this.sharedReadAt.set(key, now);
    const shared = this.store && !fresh ? await this.store.get(key) : undefined;
    const best = newest(shared, mine);
    if (best && best !== mine) this.local.set(key, best);
    return best;
  }

  private changed(before: QuotaRecord | undefined, next: QuotaRecord): boolean {
    return (
      before?.figures?.remaining !== next.figures?.remaining ||
      before?.figures?.limit !== next.figures?.limit ||
      before?.windowStart !== next.windowStart ||
      before?.limitedUntil !== next.limitedUntil
    );
  }

  /** Read, merge, write: a replica's record of the same window keeps its earlier start. */
  private share(key: string, merge: (shared: QuotaRecord | undefined) => QuotaRecord): void {
    const store = this.store;
    if (!store) return;
    this.written.set(key, this.now());
    const work = (async () => {
      const merged = merge(await store.get(key));
      const mine = this.local.get(key);
      if (newest(merged, mine) === merged) this.local.set(key, merged);
      // Kept two windows (at least a day), so the status page can say what was last seen.
      await store.set(key, merged, Math.max(2 * windowMs(merged), 86_400_000));
    })().catch(() => undefined);
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }
}

/** The record seen last; on a tie the one with the later hold and the earlier window start. */
function newest(a: QuotaRecord | undefined, b: QuotaRecord | undefined): QuotaRecord | undefined {
  if (!a) return b;
  if (!b) return a;
  const seenA = a.figures?.seenAt ?? 0;
  const seenB = b.figures?.seenAt ?? 0;
  if (seenA !== seenB) return seenA > seenB ? withHold(a, b) : withHold(b, a);
  if ((a.limitedUntil ?? 0) !== (b.limitedUntil ?? 0)) return (a.limitedUntil ?? 0) > (b.limitedUntil ?? 0) ? a : b;
  return (a.windowStart ?? Infinity) <= (b.windowStart ?? Infinity) ? a : b;
}

/** A hold from a 429 is never lost to a record that merely saw figures later. */
function withHold(winner: QuotaRecord, other: QuotaRecord): QuotaRecord {
  if ((other.limitedUntil ?? 0) <= (winner.limitedUntil ?? 0)) return winner;
  return { ...winner, limitedUntil: other.limitedUntil as number };
}

export function quotaKey(upstream: string, credential: string): string {
  return `quota:${upstream}:${credential}`;
}
