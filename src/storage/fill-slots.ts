// How many upstream blob downloads may run at once, in total and started by one client address (issue 9:
// 120 cold digests asked at once made the mirror hold 480 MiB). Each running fill holds up to its
// recent-chunks window in memory (blob-fill.ts), so with these slots the fills' memory is bounded by
// maxConcurrentFills × that window. A request over a limit waits, first come first served, up to the
// queue time-out, then gets 429 TOOMANYREQUESTS with Retry-After. A slot belongs to the fill, not to the
// request: it is held until the download ends, even if the client that started it has gone (it still
// costs the mirror that work). Joining a fill already running, and serving kept blobs, take no slot.

import { RegistryError } from '../errors.ts';

export interface FillSlotLimits {
  /** Fills running at once in this process. */
  total: number;
  /** Fills started by one client address running at once. */
  perClient: number;
  /** How long a request waits for a slot before it is answered 429. */
  queueTimeoutMs: number;
}

/** A running fill's place; release() is idempotent. */
export interface FillSlot {
  release(): void;
}

interface Waiter {
  client: string;
  grant: (slot: FillSlot) => void;
}

export class FillSlots {
  private readonly limits: FillSlotLimits;
  private running = 0;
  private readonly byClient = new Map<string, number>();
  private readonly queue: Waiter[] = [];

  constructor(limits: FillSlotLimits) {
    this.limits = limits;
  }

  /** Fills holding a slot now. */
  get inUse(): number {
    return this.running;
  }

  /** Requests waiting for a slot now. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * A slot for a fill started on behalf of `client`, at once if there is room, else when one frees up.
   * Throws TOOMANYREQUESTS after the queue time-out; stops waiting (and throws) if `signal` aborts.
   */
  async acquire(client: string, signal?: AbortSignal): Promise<FillSlot> {
    const free = this.tryAcquire(client);
    if (free) return free;
    if (signal?.aborted) throw new RegistryError('UNAVAILABLE', 'the client left while waiting for a download slot');
    return new Promise<FillSlot>((resolve, reject) => {
      const waiter: Waiter = {
        client,
        grant: (slot) => {
          cleanup();
          resolve(slot);
        },
      };
      const leave = (error: unknown): void => {
        const index = this.queue.indexOf(waiter);
        if (index >= 0) this.queue.splice(index, 1);
        cleanup();
        reject(error);
      };
      const timer = setTimeout(() => leave(this.tooMany(client)), this.limits.queueTimeoutMs);
      const onAbort = (): void => leave(new RegistryError('UNAVAILABLE', 'the client left while waiting for a download slot'));
      signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      this.queue.push(waiter);
    });
  }

  /** A slot at once if there is room for `client`, else undefined (nothing waits). */
  tryAcquire(client: string): FillSlot | undefined {
    // No queue-jumping: while there is room in total, whoever still waits is held by their own
    // per-client limit, which `hasRoom` checks for this client too.
    return this.hasRoom(client) ? this.take(client) : undefined;
  }

  private hasRoom(client: string): boolean {
    return this.running < this.limits.total && (this.byClient.get(client) ?? 0) < this.limits.perClient;
  }

  private take(client: string): FillSlot {
    this.running += 1;
    this.byClient.set(client, (this.byClient.get(client) ?? 0) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.running -= 1;
        const left = (this.byClient.get(client) ?? 1) - 1;
        if (left > 0) this.byClient.set(client, left);
        else this.byClient.delete(client);
        this.grantWaiting();
      },
    };
  }

  /** Gives freed slots to the longest-waiting requests that fit (a client at its own limit is skipped). */
  private grantWaiting(): void {
    for (let i = 0; i < this.queue.length && this.running < this.limits.total; ) {
      const waiter = this.queue[i] as Waiter;
      if (this.hasRoom(waiter.client)) {
        this.queue.splice(i, 1);
        waiter.grant(this.take(waiter.client));
      } else {
        i += 1;
      }
    }
  }

  private tooMany(client: string): RegistryError {
    const perClient = (this.byClient.get(client) ?? 0) >= this.limits.perClient;
    const retryAfter = Math.max(1, Math.ceil(this.limits.queueTimeoutMs / 1000));
    return new RegistryError('TOOMANYREQUESTS', perClient ? 'too many blob downloads from this address at once' : 'too many blob downloads at once', {
      headers: { 'retry-after': String(retryAfter) },
      detail: { limit: perClient ? 'maxConcurrentFillsPerClient' : 'maxConcurrentFills' },
    });
  }
}
