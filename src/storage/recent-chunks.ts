// The most recent bytes of a download, kept in memory by offset, so clients that keep up with the
// upstream are fed straight from memory; only clients that fall behind read the temp file back.

interface Chunk {
  offset: number;
  bytes: Buffer;
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

  add(offset: number, bytes: Buffer): void {
    this.chunks.push({ offset, bytes });
    this.held += bytes.length;
    while (this.held > this.limit && this.chunks.length > 1) {
      const dropped = this.chunks.shift() as Chunk;
      this.held -= dropped.bytes.length;
    }
  }

  /** Up to `length` bytes from `position`, without copying, if that position is still held. */
  slice(position: number, length: number): Buffer | undefined {
    // Readers that keep up ask for the newest chunks: search from the end.
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const chunk = this.chunks[i] as Chunk;
      if (position >= chunk.offset + chunk.bytes.length) return undefined;
      if (position >= chunk.offset) {
        const start = position - chunk.offset;
        return chunk.bytes.subarray(start, Math.min(chunk.bytes.length, start + length));
      }
    }
    return undefined;
  }

  /** Up to `length` bytes from `position` as views of the held chunks in order; empty if not held. */
  slices(position: number, length: number): Buffer[] {
    const views: Buffer[] = [];
    let got = 0;
    while (got < length) {
      const next = this.slice(position + got, length - got);
      if (!next) break;
      views.push(next);
      got += next.length;
    }
    return views;
  }

  clear(): void {
    this.chunks = [];
    this.held = 0;
  }
}
