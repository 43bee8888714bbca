// Size and count of the kept blobs. Walking the store is I/O proportional to the number of blobs, so it
// never happens per scrape: a background scan runs at start, then at most once per `minIntervalMs` when
// someone looks (a scrape or the status page), and on a slow timer otherwise. Readers get the last result.

import type { BlobStore } from '../storage/blob-store.ts';

export interface CacheSizeView {
  bytes: number;
  blobs: number;
  /** When the last scan finished (ms since epoch); undefined before the first one. */
  scannedAt: number | undefined;
}

export class CacheSizeScanner {
  private readonly store: Pick<BlobStore, 'usage'>;
  private readonly minIntervalMs: number;
  private current: CacheSizeView = { bytes: 0, blobs: 0, scannedAt: undefined };
  private running: Promise<CacheSizeView> | undefined;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Digests counted by kept() since the last scan, so none is counted twice; each scan starts it over. */
  private readonly counted = new Set<string>();

  constructor(store: Pick<BlobStore, 'usage'>, options: { minIntervalMs?: number } = {}) {
    this.store = store;
    this.minIntervalMs = options.minIntervalMs ?? 30_000;
  }

  get view(): CacheSizeView {
    return this.current;
  }

  /** First scan now, then a periodic one so the gauges move even when nobody looks. */
  start(periodMs = 5 * 60_000): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), periodMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * A blob or manifest kept just now (observed-blob-store.ts): counted at once rather than at the next
   * scan. A commit landing while a scan walks the store may be missed by both until the scan after.
   */
  kept(digest: string, bytes: number): void {
    if (this.counted.has(digest)) return;
    this.counted.add(digest);
    this.current = { ...this.current, bytes: this.current.bytes + bytes, blobs: this.current.blobs + 1 };
  }

  /** A blob or manifest removed just now (eviction, verify). */
  removed(digest: string, bytes: number): void {
    this.counted.delete(digest);
    this.current = { ...this.current, bytes: Math.max(0, this.current.bytes - bytes), blobs: Math.max(0, this.current.blobs - 1) };
  }

  /** Starts a background scan if the last one is older than the minimum interval; never waits for it. */
  touch(now = Date.now()): void {
    if (!this.running && now - this.startedAt >= this.minIntervalMs) void this.refresh();
  }

  /** Scans now (or joins the running scan) and resolves with the result. */
  refresh(): Promise<CacheSizeView> {
    this.running ??= this.scan().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async scan(): Promise<CacheSizeView> {
    this.startedAt = Date.now();
    try {
      const { bytes, blobs } = await this.store.usage();
      this.current = { bytes, blobs, scannedAt: Date.now() };
      this.counted.clear();
    } catch {
      // The store could not be walked now (unreadable, unreachable): keep the last result, try again later.
    }
    return this.current;
  }
}
