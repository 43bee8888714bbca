// The body of an answer read by the blob transport (ring-transport.ts): the bytes of each socket read as
// they lie in the download's ring, queued for one consumer. Each piece comes held once for that consumer,
// who releases its slot when done with the bytes (the fill: once they are written and hashed).

import type { HeldBytes } from '../storage/receive-ring.ts';

/**
 * An answer's body as the bytes of each read, in the ring they were read into. Each piece comes held once
 * for its consumer, who releases its slot when done with the bytes; the ring stops reading the upstream
 * while every slot is held.
 */
export class RingBody implements AsyncIterable<HeldBytes> {
  private readonly queue: HeldBytes[] = [];
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private consumed = false;
  private draining = false;
  private readonly abandon: () => void;
  /** Whether the rest may be read to its end in the background (a short body, while few others are). */
  private readonly mayDrain: () => boolean;
  /** Settles when the body ended whole (resolves) or failed (rejects). */
  readonly whole: Promise<void>;
  private settle!: (error?: Error) => void;

  constructor(abandon: () => void, mayDrain: () => boolean) {
    this.abandon = abandon;
    this.mayDrain = mayDrain;
    this.whole = new Promise((resolve, reject) => {
      this.settle = (error) => (error ? reject(error) : resolve());
    });
    this.whole.catch(() => undefined);
  }

  /** @internal the transport's Exchange */
  push(held: HeldBytes): void {
    if (this.draining) return;
    held.slot?.hold();
    this.queue.push(held);
    this.notify();
  }

  /** @internal the transport's Exchange */
  end(): void {
    this.ended = true;
    this.settle();
    this.notify();
  }

  /** @internal the transport's Exchange */
  fail(error: Error): void {
    this.failure ??= error;
    this.settle(error);
    this.notify();
  }

  /** Drops the body unread: the connection is closed rather than drained. */
  async dump(): Promise<void> {
    this.drop();
  }

  /**
   * Drops the body and whatever of it is still queued; a short one is read to its end to keep the
   * connection, within a deadline (the transport's).
   */
  drop(): void {
    for (const held of this.queue.splice(0)) held.slot?.release();
    if (this.ended || this.failure !== undefined || this.draining) return;
    if (this.mayDrain()) this.draining = true;
    else this.abandon();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<HeldBytes> {
    if (this.consumed) throw new Error('a body is read once');
    this.consumed = true;
    try {
      for (;;) {
        const next = this.queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (this.failure !== undefined) throw this.failure;
        if (this.ended) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      this.drop();
    }
  }

  private notify(): void {
    const resume = this.wake;
    this.wake = undefined;
    resume?.();
  }
}
