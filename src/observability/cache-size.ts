// Size and count of the kept blobs. Walking the store is I/O proportional to the number of blobs, so it
// never happens per scrape: a background scan runs at start, then at most once per `minIntervalMs` when
// someone looks (a scrape or the status page), and on a slow timer otherwise. Readers get the last result.

import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

export interface CacheSizeView {
  bytes: number;
  blobs: number;
  /** When the last scan finished (ms since epoch); undefined before the first one. */
  scannedAt: number | undefined;
}

export class CacheSizeScanner {
  private readonly blobsDir: string;
  private readonly minIntervalMs: number;
  private current: CacheSizeView = { bytes: 0, blobs: 0, scannedAt: undefined };
  private running: Promise<CacheSizeView> | undefined;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(storeRoot: string, options: { minIntervalMs?: number } = {}) {
    this.blobsDir = path.join(storeRoot, 'blobs');
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
    let bytes = 0;
    let blobs = 0;
    // <root>/blobs/<algorithm>/<two hex>/<hex>
    for (const algorithm of await listDirs(this.blobsDir)) {
      for (const prefix of await listDirs(path.join(this.blobsDir, algorithm))) {
        const dir = path.join(this.blobsDir, algorithm, prefix);
        for (const name of await listFiles(dir)) {
          try {
            bytes += (await stat(path.join(dir, name))).size;
            blobs += 1;
          } catch {
            // Evicted between listing and stat: not in the cache any more.
          }
        }
      }
    }
    this.current = { bytes, blobs, scannedAt: Date.now() };
    return this.current;
  }
}

async function listDirs(dir: string): Promise<string[]> {
  return (await entries(dir)).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
}

async function listFiles(dir: string): Promise<string[]> {
  return (await entries(dir)).filter((entry) => entry.isFile()).map((entry) => entry.name);
}

async function entries(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}
