// The most recent bytes of a download, kept in memory by offset, so clients that keep up with the
// upstream are fed straight from memory; only clients that fall behind read the temp file back. A download
// read into a ring (receive-ring.ts) keeps its bytes only until their slot is read into again: a stale
// chunk reads as not held, and its reader goes to the file.

import { type HeldBytes, stillHeld } from './receive-ring.ts';

interface Chunk {
  offset: number;
  held: HeldBytes;
}

export class RecentChunks {
  private readonly limit: number;
  private chunks: Chunk[] = [];
  private held = 0;

  constructor(limitBytes: number) {
    this.limit = limitBytes;
  }

  /** Bytes currently held. */
  get size(): number {
    return this.held;
  }

  add(offset: number, held: HeldBytes): void {
    this.chunks.push({ offset, held });
    this.held += held.bytes.length;
    while (this.chunks.length > 1 && (this.held > this.limit || !stillHeld((this.chunks[0] as Chunk).held))) {
      const dropped = this.chunks.shift() as Chunk;
      this.held -= dropped.held.bytes.length;
    }
  }

  /** Up to `length` bytes from `position`, without copying, if that position is still held. */
  slice(position: number, length: number): HeldBytes | undefined {
    // Readers that keep up ask for the newest chunks: search from the end.
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const chunk = this.chunks[i] as Chunk;
      const { bytes } = chunk.held;
      if (position >= chunk.offset + bytes.length) return undefined;
      if (position >= chunk.offset) {
        if (!stillHeld(chunk.held)) return undefined;
        const start = position - chunk.offset;
        return { ...chunk.held, bytes: bytes.subarray(start, Math.min(bytes.length, start + length)) };
      }
    }
    return undefined;
  }

  /** Up to `length` bytes from `position` as views of the held chunks in order; empty if not held. */
  slices(position: number, length: number): HeldBytes[] {
    const views: HeldBytes[] = [];
    let got = 0;
    while (got < length) {
      const next = this.slice(position + got, length - got);
      if (!next) break;
      views.push(next);
      got += next.bytes.length;
    }
    return views;
  }

  clear(): void {
    this.chunks = [];
    this.held = 0;
  }
}
