// What every store's writer shares: hash while writing, verify before anything becomes visible, and the
// "stream through" mode in which a failing store (full, unwritable, no room under storage.maxSize) stops
// keeping the content but goes on hashing it, so clients still get verified bytes. A store supplies only
// where the bytes go (append), how verified content becomes visible (keep) and how a write is dropped
// (discard); the digest check cannot be skipped by any of them.

import { createHash, type Hash, randomUUID } from 'node:crypto';
import { RegistryError } from '../errors.ts';
import type { Digest, DigestAlgorithm } from '../reference.ts';
import type { BlobStore, BlobWriter } from './blob-store.ts';

export abstract class HashingWriter implements BlobWriter {
  readonly id: string;
  private readonly hash: Hash;
  private bytes = 0;
  private failure: unknown;
  private tolerateStoreErrors = false;
  private discarded = false;

  constructor(algorithm: DigestAlgorithm, options: { id?: string; storeError?: unknown } = {}) {
    this.id = options.id ?? randomUUID();
    this.hash = createHash(algorithm);
    this.failure = options.storeError;
  }

  /** Stores the chunks at `offset` (the bytes written before them); `total` is their length. */
  protected abstract append(chunks: Buffer[], offset: number, total: number): Promise<void>;
  /** Makes the `written` bytes durable and visible under `digest` (already verified). */
  protected abstract keep(digest: Digest): Promise<void>;
  /** Drops whatever was stored so far. Called at most once. */
  protected abstract discard(): Promise<void>;

  get written(): number {
    return this.bytes;
  }

  get storeError(): unknown {
    return this.failure;
  }

  streamThroughOnDiskError(): this {
    this.tolerateStoreErrors = true;
    return this;
  }

  async stopKeeping(reason: Error): Promise<void> {
    if (this.failure !== undefined) return;
    this.failure = reason;
    await this.abort();
  }

  async write(chunk: Buffer): Promise<void> {
    await this.writeMany([chunk]);
  }

  async writeMany(chunks: Buffer[]): Promise<void> {
    for (const chunk of chunks) this.hash.update(chunk);
    const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    if (this.failure === undefined) {
      try {
        await this.append(chunks, this.bytes, total);
      } catch (error) {
        if (!this.tolerateStoreErrors) throw error;
        this.failure = error;
        await this.abort();
      }
    }
    this.bytes += total;
  }

  async commit(digest: Digest): Promise<void> {
    await this.verify(digest);
    await this.persist(digest);
  }

  async verify(digest: Digest): Promise<void> {
    const actual = this.hash.digest('hex');
    if (actual !== digest.hex) {
      await this.abort();
      throw new RegistryError('DIGEST_INVALID', 'upstream content does not match its digest', {
        detail: { expected: digest.text, actual: `${digest.algorithm}:${actual}` },
      });
    }
  }

  async persist(digest: Digest): Promise<void> {
    if (this.failure !== undefined || this.discarded) throw new Error('not kept: the store could not be written', { cause: this.failure });
    await this.keep(digest);
    // Kept: nothing of this write is left to drop (an abort() from a caller's clean-up is now a no-op).
    this.discarded = true;
  }

  async abort(): Promise<void> {
    if (this.discarded) return;
    this.discarded = true;
    await this.discard();
  }
}

/** BlobStore.put() for any store: small content in memory, written, checked and kept, or nothing kept. */
export async function putVerified(store: Pick<BlobStore, 'create'>, digest: Digest, bytes: Buffer): Promise<void> {
  const writer = await store.create(digest.algorithm);
  try {
    await writer.write(bytes);
    await writer.commit(digest);
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/**
 * A writer that only hashes: for content that streams through without being kept, when the store has
 * no room for it under storage.maxSize (issue 9). `reason` is its `storeError`.
 */
export function hashOnlyWriter(algorithm: DigestAlgorithm, reason: Error): BlobWriter {
  return new HashOnlyWriter(algorithm, { storeError: reason });
}

class HashOnlyWriter extends HashingWriter {
  protected async append(): Promise<void> {
    throw new Error('a hash-only writer keeps nothing');
  }
  protected async keep(): Promise<void> {
    throw new Error('a hash-only writer keeps nothing');
  }
  protected async discard(): Promise<void> {}
}
