// A blob store in this process's memory: for unit tests, and for apps built with `deps.store` in tests that
// need no disk. Same rules as every store (blob-store.ts): content is hashed while written and visible
// only after a matching commit; readers keep what they opened. Nothing survives the process, and only
// this process sees it, so there is no embedded metadata database and other replicas never follow its writes.

import { Readable } from 'node:stream';
import type { ExclusiveLock, HeldLease } from '../leases/lease.ts';
import type { Digest, DigestAlgorithm } from '../reference.ts';
import {
  type BlobStat,
  type BlobStore,
  type BlobWriter,
  type ByteRange,
  type InFlightReader,
  type InFlightUsage,
  type KeptBlob,
  notKept,
  type StoreUsage,
} from './blob-store.ts';
import { HashingWriter, putVerified } from './hashing-writer.ts';

const READ_CHUNK_BYTES = 256 * 1024;

interface Kept {
  digest: Digest;
  bytes: Buffer;
  accessedAt: number;
}

/** The bytes of a write in flight, in a buffer that grows by doubling. */
class GrowingBuffer {
  private buffer = Buffer.alloc(0);
  length = 0;

  append(chunks: Buffer[], offset: number): void {
    const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    if (offset + total > this.buffer.length) {
      const next = Buffer.alloc(Math.max(offset + total, this.buffer.length * 2, 64 * 1024));
      this.buffer.copy(next, 0, 0, this.length);
      this.buffer = next;
    }
    let at = offset;
    for (const chunk of chunks) {
      chunk.copy(this.buffer, at);
      at += chunk.length;
    }
    this.length = Math.max(this.length, at);
  }

  /** The bytes written so far (a view: append() after it never changes these bytes). */
  view(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}

export class MemoryBlobStore implements BlobStore {
  private readonly kept = new Map<string, Kept>();
  private readonly writes = new Map<string, GrowingBuffer>();
  private readonly locks = new Map<string, MemoryLock>();
  /** Set to make writes and probe() fail (a full or unwritable store), for tests. */
  failWrites: Error | undefined;

  async stat(digest: Digest): Promise<BlobStat | undefined> {
    const blob = this.kept.get(digest.text);
    return blob && { size: blob.bytes.length };
  }

  open(digest: Digest, range?: ByteRange): Readable {
    const blob = this.kept.get(digest.text);
    if (!blob) {
      const stream = new Readable({ read() {} });
      queueMicrotask(() => stream.destroy(notKept(digest)));
      return stream;
    }
    const bytes = range ? blob.bytes.subarray(range.start, range.end + 1) : blob.bytes;
    return Readable.from(chunked(bytes), { objectMode: false });
  }

  async readAll(digest: Digest): Promise<Buffer | undefined> {
    const blob = this.kept.get(digest.text);
    return blob && Buffer.from(blob.bytes);
  }

  async put(digest: Digest, bytes: Buffer): Promise<void> {
    await putVerified(this, digest, bytes);
  }

  async *list(): AsyncGenerator<KeptBlob> {
    for (const blob of [...this.kept.values()]) yield { digest: blob.digest, size: blob.bytes.length, accessedAt: blob.accessedAt };
  }

  async remove(digest: Digest): Promise<void> {
    this.kept.delete(digest.text);
  }

  async touch(digest: Digest, at: Date = new Date()): Promise<boolean> {
    const blob = this.kept.get(digest.text);
    if (!blob) return false;
    blob.accessedAt = at.getTime();
    return true;
  }

  async accessedAt(digest: Digest): Promise<number | undefined> {
    return this.kept.get(digest.text)?.accessedAt;
  }

  async usage(): Promise<StoreUsage> {
    let bytes = 0;
    for (const blob of this.kept.values()) bytes += blob.bytes.length;
    return { blobs: this.kept.size, bytes };
  }

  async create(algorithm: DigestAlgorithm, options: { streamThroughOnDiskError?: boolean } = {}): Promise<BlobWriter> {
    if (this.failWrites && !options.streamThroughOnDiskError) throw this.failWrites;
    const writer = new MemoryWriter(algorithm, this, this.failWrites);
    if (!this.failWrites) this.writes.set(writer.id, writer.buffer);
    return writer;
  }

  async inFlight(): Promise<InFlightUsage> {
    let bytes = 0;
    for (const buffer of this.writes.values()) bytes += buffer.length;
    return { writes: this.writes.size, bytes };
  }

  async openInFlight(digest: Digest, writeId?: string): Promise<InFlightReader | undefined> {
    const growing = writeId === undefined ? undefined : this.writes.get(writeId);
    if (growing) {
      // Holds the write's buffer: still readable after a commit or an abort, like an open file.
      return { size: async () => growing.length, read: async (position, length) => growing.view().subarray(position, position + length), close: async () => {} };
    }
    const blob = this.kept.get(digest.text);
    if (!blob) return undefined;
    const { bytes } = blob;
    return { size: async () => bytes.length, read: async (position, length) => bytes.subarray(position, position + length), close: async () => {} };
  }

  async discardInFlight(writeId: string): Promise<void> {
    this.writes.delete(writeId);
  }

  async probe(): Promise<void> {
    if (this.failWrites) throw this.failWrites;
  }

  lock(name: string): ExclusiveLock {
    let lock = this.locks.get(name);
    if (!lock) {
      lock = new MemoryLock();
      this.locks.set(name, lock);
    }
    return lock;
  }

  embeddedMetadataPath(): undefined {
    return undefined;
  }

  /** @internal A verified write becomes a kept blob. */
  keepWrite(id: string, digest: Digest, buffer: GrowingBuffer): void {
    this.writes.delete(id);
    // Kept content is immutable: a second writer of the same digest has the same bytes.
    if (!this.kept.has(digest.text)) this.kept.set(digest.text, { digest, bytes: Buffer.from(buffer.view()), accessedAt: Date.now() });
  }

  /** @internal */
  dropWrite(id: string): void {
    this.writes.delete(id);
  }
}

class MemoryWriter extends HashingWriter {
  readonly buffer = new GrowingBuffer();
  private readonly store: MemoryBlobStore;

  constructor(algorithm: DigestAlgorithm, store: MemoryBlobStore, storeError: unknown) {
    super(algorithm, { storeError });
    this.store = store;
  }

  protected async append(chunks: Buffer[], offset: number): Promise<void> {
    if (this.store.failWrites) throw this.store.failWrites;
    this.buffer.append(chunks, offset);
  }

  protected async keep(digest: Digest): Promise<void> {
    this.store.keepWrite(this.id, digest, this.buffer);
  }

  protected async discard(): Promise<void> {
    this.store.dropWrite(this.id);
  }
}

/** One process's lock: its holder cannot die without the store, so it needs no lease to run out. */
class MemoryLock implements ExclusiveLock {
  private holder: { lost: boolean } | undefined;

  async tryAcquire(): Promise<HeldLease | undefined> {
    if (this.holder) return undefined;
    const held = { lost: false };
    this.holder = held;
    return {
      get lost() {
        return held.lost;
      },
      release: async () => {
        if (this.holder === held) this.holder = undefined;
      },
    };
  }

  async close(): Promise<void> {}
}

function* chunked(bytes: Buffer): Generator<Buffer> {
  for (let at = 0; at < bytes.length; at += READ_CHUNK_BYTES) yield bytes.subarray(at, at + READ_CHUNK_BYTES);
}
