// The storage seam (issue 10): the one interface through which the mirror keeps and reads blobs (manifests
// are blobs too). Content is addressed by digest and shared by every upstream and repository. Only the
// implementations know where and how bytes are kept — filesystem-blob-store.ts (a directory tree, today's
// layout), memory-blob-store.ts (unit tests) and, later, S3-compatible object storage. Everything else —
// caches, fills, eviction, readiness, the CLI, replicas — speaks to this interface, usually through a
// Pick<> of the few methods it needs.
//
// The rules every implementation keeps (test/unit/blob-store-contract.ts checks them against each one):
// a writer hashes while it writes and its content becomes visible under a digest only by commit() on a
// match; abort() leaves nothing; kept content is immutable, so two writers of one digest both succeed;
// a reader that opened content keeps reading it even if it is removed meanwhile.

import type { Readable } from 'node:stream';
import type { ExclusiveLock, NotedLock } from '../leases/lease.ts';
import type { Digest, DigestAlgorithm } from '../reference.ts';

export interface BlobStat {
  size: number;
}

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

export interface KeptBlob {
  digest: Digest;
  size: number;
  /** Last recorded use (ms since epoch), which eviction orders by; see touch(). */
  accessedAt: number;
}

export interface StoreUsage {
  /** Kept blobs. */
  blobs: number;
  /** Their bytes. */
  bytes: number;
}

export interface InFlightUsage {
  /** Writes started and neither committed nor aborted (fills in flight, other replicas' on a shared store). */
  writes: number;
  /** Bytes they hold so far: they take room too, though nothing can evict them. */
  bytes: number;
}

export interface CreateOptions {
  /**
   * A store that fails to take the content (full, unwritable) does not fail the writer: it goes on
   * hashing, so the content can still be verified and streamed to clients, just not kept.
   */
  streamThroughOnDiskError?: boolean;
}

/** Content on its way into the store: hashed as it is written, visible under its digest only after commit(). */
export interface BlobWriter {
  /**
   * Opaque name of this write while it is in flight, for openInFlight(): other readers in this process,
   * and on a store shared by replicas the other replicas (it travels through the fill lease's note).
   */
  readonly id: string;
  /** Bytes written (hashed) so far. */
  readonly written: number;
  /** Why the content is no longer being kept (only hashed), if it is not. */
  readonly storeError: unknown;
  /** From now on a failure of the store drops what was written and keeps hashing instead of throwing. */
  streamThroughOnDiskError(): this;
  write(chunk: Buffer): Promise<void>;
  /**
   * Appends several chunks at once (one system call where the store can). The caller may reuse the chunks'
   * memory once this settles (a download's ring does): a store that keeps them longer keeps copies.
   */
  writeMany(chunks: Buffer[]): Promise<void>;
  /**
   * Stops keeping this content: what was written goes, hashing goes on. For a fill of unannounced size
   * that outgrew the room left under storage.maxSize (issue 9). Never while a write is under way.
   */
  stopKeeping(reason: Error): Promise<void>;
  /** Checks the content against `digest`; on a mismatch drops it and throws DIGEST_INVALID. */
  verify(digest: Digest): Promise<void>;
  /** Makes verified content durable and visible under its digest. */
  persist(digest: Digest): Promise<void>;
  /** verify() then persist(). */
  commit(digest: Digest): Promise<void>;
  /** Drops the write; nothing of it stays visible. Idempotent, and harmless after a commit. */
  abort(): Promise<void>;
}

/** Random access to content that may still be growing (a write in flight), or to a kept blob. */
export interface InFlightReader {
  /** Bytes readable now (all of them once the blob is kept). */
  size(): Promise<number>;
  /** Up to `length` bytes at `position`; fewer, or none, when they have not been written yet. */
  read(position: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface BlobStore {
  // Kept blobs.

  /** Size of a kept blob; undefined when it is not kept. */
  stat(digest: Digest): Promise<BlobStat | undefined>;
  /**
   * Streams a kept blob, whole or a byte range. A blob that is not kept fails the stream with an error
   * for which isNotKept() is true.
   */
  open(digest: Digest, range?: ByteRange): Readable;
  /** A kept blob's whole content (for small content: manifests); undefined when not kept. */
  readAll(digest: Digest): Promise<Buffer | undefined>;
  /** Keeps small content already in memory (a manifest), after checking it against its digest. */
  put(digest: Digest, bytes: Buffer): Promise<void>;
  /** Every kept blob with its size and last use. */
  list(): AsyncIterable<KeptBlob>;
  /** Removes a kept blob (eviction, or one found corrupt); no error if it is not kept. */
  remove(digest: Digest): Promise<void>;
  /** Records a use of a kept blob (eviction's LRU order); false when it is not kept. */
  touch(digest: Digest, at?: Date): Promise<boolean>;
  /** A kept blob's last recorded use (ms since epoch); undefined when it is not kept. */
  accessedAt(digest: Digest): Promise<number | undefined>;
  /** Count and bytes of the kept blobs (walks them: not for every request). */
  usage(): Promise<StoreUsage>;

  // Writes.

  /** Starts a write for content hashed with `algorithm`. */
  create(algorithm: DigestAlgorithm, options?: CreateOptions): Promise<BlobWriter>;
  /** Writes in flight now, with their bytes so far. */
  inFlight(): Promise<InFlightUsage>;
  /**
   * Follows content as it is written: the write `writeId` (a BlobWriter's id, this process's or another
   * replica's) while it is in flight, else — once committed, or with no id — the kept blob. Undefined
   * when there is neither, or the store cannot offer the write to this process (then the writer must be
   * followed some other way).
   */
  openInFlight(digest: Digest, writeId?: string): Promise<InFlightReader | undefined>;
  /** Removes what the write `writeId` left behind when its writer died (a replica taking over its fill). */
  discardInFlight(writeId: string): Promise<void>;

  // Services of the store as a whole.

  /** Throws when the store cannot take a write now (/readyz); the error's `code`, if any, says why. */
  probe(): Promise<void>;
  /** A lock with a lease that every process using this store meets at (the sweeper's without Redis). */
  lock(name: string, leaseMs: number): ExclusiveLock;
  /**
   * A lock whose holder can leave a note, met at by every process on this host that uses the store: the
   * fill and single-flight leases of workers that share no Redis (issue 11). Names may hold colons
   * (`fill:sha256:<hex>`). Absent where processes cannot share one (the in-memory store).
   */
  notedLock?(name: string, leaseMs: number): NotedLock;
  /**
   * Where an embedded metadata log belongs (a local file; the LMDB database is kept beside it and an
   * older version's log there is imported once), or undefined when this store has no such place.
   */
  embeddedMetadataPath(): string | undefined;
  /**
   * Removes what writers that died left behind (temp files, temporary objects, incomplete multipart
   * uploads) untouched for `olderThanMs`; never this process's writes in flight. Run by the one sweeper,
   * under its lease (src/eviction/evictor.ts), so replicas do not all list the store at once. Returns
   * counts by kind.
   */
  sweepOrphans?(olderThanMs: number): Promise<OrphanReport>;
}

/** What an orphan sweep removed, by kind (e.g. { files: 2 } or { objects: 1, uploads: 3 }). */
export type OrphanReport = Readonly<Record<string, number>>;

const NOT_KEPT = 'ENOENT';

/** The error a read of a blob that is not kept fails with. */
export function notKept(digest: Digest): Error {
  return Object.assign(new Error(`blob ${digest.text} is not kept`), { code: NOT_KEPT });
}

/** Whether `error` says the blob read is not kept (never was, or was removed since it was listed). */
export function isNotKept(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === NOT_KEPT;
}

/** Usage by walking a listing: for stores that keep no running total (every byte is counted once). */
export async function usageOf(blobs: AsyncIterable<KeptBlob>): Promise<StoreUsage> {
  let bytes = 0;
  let count = 0;
  for await (const blob of blobs) {
    bytes += blob.size;
    count += 1;
  }
  return { blobs: count, bytes };
}
