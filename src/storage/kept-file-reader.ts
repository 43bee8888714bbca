// A kept blob's file, whole or a range of it, as a stream. Piped into an HTTP response (fastify pipes a
// stream payload into it), it reads into reused buffers (read-buffers.ts) and writes each to the response
// itself, taking the buffer back only at the write's callback, when the socket no longer needs its bytes;
// no allocation per read. Read any other way, each read comes in a buffer of its own, as from
// createReadStream: nothing tells when such a consumer is done with the bytes.

import type { ServerResponse } from 'node:http';
import { type FileHandle, open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { giveReadBuffer, READ_BUFFER_BYTES, takeReadBuffer } from './read-buffers.ts';
import { SelfSendingReadable, waitForRoom } from './self-sending-readable.ts';

/** `start` to `end` inclusive; without `end`, to the end of the file. */
export function readKeptFile(path: string, start = 0, end?: number): Readable {
  return new KeptFileReader(path, start, end);
}

class KeptFileReader extends SelfSendingReadable {
  private readonly path: string;
  private readonly end: number;
  private position: number;
  /** Opened on the first read: a stream never read opens nothing. */
  private opening: Promise<FileHandle> | undefined;

  constructor(path: string, start: number, end: number | undefined) {
    super({ highWaterMark: READ_BUFFER_BYTES });
    this.path = path;
    this.position = start;
    this.end = end ?? Infinity;
  }

  override async _read(): Promise<void> {
    try {
      const want = this.wanted();
      if (want === 0) {
        this.push(null);
        return;
      }
      const bytes = Buffer.allocUnsafe(want);
      const read = await this.readInto(bytes, want);
      if (this.destroyed) return;
      this.push(read === 0 ? null : bytes.subarray(0, read));
    } catch (error) {
      this.destroy(error as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const closing = (this.opening ?? Promise.resolve(undefined)).then((handle) => handle?.close());
    void closing.catch(() => undefined).finally(() => callback(error));
  }

  protected async sendTo(response: ServerResponse): Promise<boolean> {
    // Buffers whose write is under way; a response closed (finished, or its client gone) owes no callback,
    // and its buffers are let go rather than reused (the socket may have been writing them as it closed).
    const inFlight = new Set<Buffer>();
    response.once('close', () => inFlight.clear());
    for (;;) {
      const want = this.wanted();
      if (want === 0) break;
      if (this.destroyed || response.destroyed) return false;
      const buffer = takeReadBuffer();
      const read = await this.readInto(buffer, want);
      if (read === 0 || this.destroyed || response.destroyed) {
        giveReadBuffer(buffer);
        if (read > 0) return false;
        break;
      }
      inFlight.add(buffer);
      const room = response.write(buffer.subarray(0, read), () => {
        if (inFlight.delete(buffer)) giveReadBuffer(buffer);
      });
      if (!room) await waitForRoom(response);
    }
    return !this.destroyed && !response.destroyed;
  }

  /** Bytes still to send, at most one buffer's worth. */
  private wanted(): number {
    return Math.max(0, Math.min(READ_BUFFER_BYTES, this.end + 1 - this.position));
  }

  /** 0 at the end of the file, where no end was given; an end of the file short of the range asked for fails. */
  private async readInto(buffer: Buffer, length: number): Promise<number> {
    const handle = await (this.opening ??= open(this.path, 'r'));
    const { bytesRead } = await handle.read(buffer, 0, length, this.position);
    if (bytesRead === 0 && this.end !== Infinity) throw new Error('kept blob ended before the range asked for');
    this.position += bytesRead;
    return bytesRead;
  }
}
