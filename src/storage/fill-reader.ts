// A reader of a blob being filled: [start, end] (inclusive) of it, following the download as it grows. Bytes
// still in the fill's recent-chunks window come straight from memory, older ones from the write in flight
// (BlobStore.openInFlight). Fails if the fill fails, so the client's response is cut rather than completed,
// and holds each reader's final byte until the digest has been checked, so no response ever completes with
// unverified content.
//
// Sent to an HTTP response (fastify pipes a stream payload into it), the reader writes the window's bytes
// to the response itself, straight from the download's ring, and borrows their slot until the response's
// socket took them (the write's callback): no copy, and the ring never reads into a slot under a write in
// flight (it takes a new buffer instead, receive-ring.ts), so a slow client slows nobody else.
// Read any other way, the window's bytes are copied out, since nothing tells when a consumer is done with them.

import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { BlobFill } from './blob-fill.ts';
import type { BlobStore, InFlightReader } from './blob-store.ts';
import type { HeldBytes } from './receive-ring.ts';
import { SelfSendingReadable, waitForRoom } from './self-sending-readable.ts';

/**
 * A reader takes up to this much at once: all the upstream's chunks held for it, so the client's socket
 * gets a few large writes rather than many small ones (bench: cold large blob).
 */
const READ_CHUNK = 1024 * 1024;

export function readFill(fill: BlobFill, store: Pick<BlobStore, 'openInFlight'>, start: number, end: number | undefined): Readable {
  return new FillReader(fill, store, start, end);
}

const EVENTS = ['progress', 'verified', 'committed', 'failed'] as const;

class FillReader extends SelfSendingReadable {
  private readonly fill: BlobFill;
  private readonly store: Pick<BlobStore, 'openInFlight'>;
  private readonly end: number | undefined;
  private position: number;
  private reader: InFlightReader | undefined;
  private waiting: (() => void) | undefined;
  private readonly wake = (): void => {
    const resume = this.waiting;
    this.waiting = undefined;
    resume?.();
  };

  constructor(fill: BlobFill, store: Pick<BlobStore, 'openInFlight'>, start: number, end: number | undefined) {
    super({ highWaterMark: READ_CHUNK });
    this.fill = fill;
    this.store = store;
    this.position = start;
    this.end = end;
    for (const event of EVENTS) fill.on(event, this.wake);
  }

  override async _read(): Promise<void> {
    try {
      const next = await this.next();
      if (this.destroyed) {
        giveBack(next);
        return;
      }
      if (next === null) {
        this.push(null);
        return;
      }
      // All at once: a response writes them together (one writev). Views of a ring are copied, then given back.
      for (const held of next) {
        this.push(held.slot ? Buffer.from(held.bytes) : held.bytes);
        held.slot?.giveBack();
      }
    } catch (error) {
      this.destroy(error as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    for (const event of EVENTS) this.fill.off(event, this.wake);
    this.wake();
    const closing = this.reader?.close();
    this.reader = undefined;
    void Promise.resolve(closing).catch(() => undefined).finally(() => callback(error));
  }

  /** Writes to the response directly, each of the window's bytes held until its write is done. */
  protected async sendTo(response: ServerResponse): Promise<boolean> {
    const inFlight = new Set<HeldBytes>();
    const done = (held: HeldBytes): void => {
      if (inFlight.delete(held)) held.slot?.giveBack();
    };
    // A response closed (finished, or its client gone) took or dropped everything: no callback is owed.
    response.once('close', () => {
      for (const held of inFlight) done(held);
    });
    for (;;) {
      if (this.destroyed) return false;
      const next = await this.next();
      if (this.destroyed) {
        giveBack(next);
        return false;
      }
      if (next === null) return true;
      let room = true;
      // Corked, the pieces go to the socket together (one writev), each with its own callback.
      response.cork();
      for (const held of next) {
        if (held.slot) inFlight.add(held);
        room = response.write(held.bytes, () => done(held));
      }
      response.uncork();
      if (response.destroyed) return false;
      if (!room) await waitForRoom(response);
    }
  }

  /**
   * The next bytes: views of the recent window (each slot borrowed once for the caller) or bytes read from the
   * store (in a buffer of their own), or null at the end. Waits for the download while it has nothing new.
   */
  private async next(): Promise<HeldBytes[] | null> {
    const fill = this.fill;
    for (;;) {
      if (this.destroyed) return null;
      // Content already verified stays servable even if keeping it failed afterwards (e.g. disk full).
      if (fill.state === 'failed' && !fill.verified) throw fill.error ?? new Error('blob fill failed');
      const last = this.end ?? (fill.verified ? fill.received - 1 : Infinity);
      if (this.position > last) return null;
      // Every reader's own final byte waits for the digest check, ranges included.
      const available = fill.verified ? Math.min(fill.received, last + 1) : Math.min(fill.received - 1, last);
      if (this.position < available) {
        const want = Math.min(READ_CHUNK, available - this.position);
        const held = fill.recent.slices(this.position, want);
        if (held.length > 0) {
          // Borrowed before anything else runs: the ring never reads into a borrowed slot.
          for (const piece of held) {
            piece.slot?.borrow();
            this.position += piece.bytes.length;
          }
          return held;
        }
        if (this.position < fill.written && !fill.diskless) {
          const bytes = await this.readDisk(Math.min(want, fill.written - this.position));
          this.position += bytes.length;
          return [{ bytes }];
        }
      }
      // Streaming through without a disk copy, a reader that fell out of the memory window cannot catch up.
      if (fill.diskless && this.position < fill.received && !fill.recent.slice(this.position, 1)) {
        throw new Error('reader fell behind a blob that cannot be kept');
      }
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  private async readDisk(length: number): Promise<Buffer> {
    if (!this.reader) {
      // The write while it is in flight (readable after it is committed, too), else the kept blob.
      const opened = await this.store.openInFlight(this.fill.digest, this.fill.state === 'committed' ? undefined : this.fill.writeId);
      if (this.destroyed) {
        // Closed while it opened: nobody else would close this one.
        await opened?.close();
        throw new Error('blob fill reader closed');
      }
      this.reader = opened;
    }
    if (!this.reader) throw new Error('blob fill content is gone from the store');
    const bytes = await this.reader.read(this.position, length);
    if (bytes.length === 0) throw new Error('blob fill content ended early');
    return bytes;
  }
}

/** Gives back the slots of bytes taken but not sent. */
function giveBack(taken: HeldBytes[] | null): void {
  for (const held of taken ?? []) held.slot?.giveBack();
}
