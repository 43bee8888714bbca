// Content-addressed store on the filesystem: <root>/blobs/<algorithm>/<first two hex>/<hex>, shared by every
// upstream and repository. Writers go to <root>/tmp (same filesystem), hash while writing, and are renamed
// into place only when the digest matches, so a blob path only ever holds verified content.

import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { Digest, DigestAlgorithm } from '../reference.ts';
import { RegistryError } from '../errors.ts';

const READ_CHUNK_BYTES = 1024 * 1024;
/** Temp files are named by randomUUID(). */
const TEMP_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A shared temp file this old belongs to a replica that died mid-fill. */
const STALE_SHARED_TEMP_MS = 10 * 60_000;

export interface BlobStat {
  size: number;
}

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

export class BlobStore {
  readonly root: string;
  private readonly tmpDir: string;

  private constructor(root: string) {
    this.root = root;
    this.tmpDir = path.join(root, 'tmp');
  }

  /**
   * Creates the layout and removes temp files left by a process that died mid-fill. A store shared with
   * other replicas keeps recent temp files: they may be fills other replicas are writing right now.
   */
  static async open(root: string, options: { sharedWithReplicas?: boolean } = {}): Promise<BlobStore> {
    const store = new BlobStore(root);
    await mkdir(path.join(root, 'blobs'), { recursive: true });
    if (options.sharedWithReplicas) {
      await mkdir(store.tmpDir, { recursive: true });
      await store.removeTempFilesOlderThan(STALE_SHARED_TEMP_MS);
    } else {
      await rm(store.tmpDir, { recursive: true, force: true });
      await mkdir(store.tmpDir, { recursive: true });
    }
    return store;
  }

  /** Removes temp files untouched for `ageMs` (a live fill writes to its file continuously). */
  async removeTempFilesOlderThan(ageMs: number): Promise<void> {
    const cutoff = Date.now() - ageMs;
    for (const name of await readdir(this.tmpDir)) {
      const file = path.join(this.tmpDir, name);
      const info = await stat(file).catch(() => undefined);
      if (info && info.mtimeMs < cutoff) await rm(file, { force: true });
    }
  }

  /** The temp file a fill (of this or another replica) named `name` writes to; undefined if not such a name. */
  tempPathFor(name: string): string | undefined {
    // Names come from other replicas through Redis: only our own UUID names are accepted, never a path.
    return TEMP_NAME.test(name) ? path.join(this.tmpDir, name) : undefined;
  }

  pathFor(digest: Digest): string {
    return path.join(this.root, 'blobs', digest.algorithm, digest.hex.slice(0, 2), digest.hex);
  }

  async stat(digest: Digest): Promise<BlobStat | undefined> {
    try {
      const info = await stat(this.pathFor(digest));
      return { size: info.size };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Streams a kept blob, whole or a byte range. */
  read(digest: Digest, range?: ByteRange): Readable {
    // Large reads: a quarter of the syscalls and stream hops of the 64 KiB default (bench: warm large blob).
    return createReadStream(this.pathFor(digest), { highWaterMark: READ_CHUNK_BYTES, ...(range && { start: range.start, end: range.end }) });
  }

  async readAll(digest: Digest): Promise<Buffer | undefined> {
    try {
      return await readFile(this.pathFor(digest));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Keeps small content (a manifest) already in memory, after checking it against its digest. */
  async put(digest: Digest, bytes: Buffer): Promise<void> {
    const writer = await this.create(digest.algorithm);
    try {
      await writer.write(bytes);
      await writer.commit(digest);
    } catch (error) {
      await writer.abort();
      throw error;
    }
  }

  /**
   * Starts a blob in tmp/. With `streamThroughOnDiskError`, a failing disk (full, unwritable) does not
   * fail the writer: it drops the file and goes on hashing, so the content can still be verified and
   * streamed to clients, just not kept (`diskError` says why).
   */
  async create(algorithm: DigestAlgorithm, options: { streamThroughOnDiskError?: boolean } = {}): Promise<BlobWriter> {
    const tempPath = path.join(this.tmpDir, randomUUID());
    const hash = createHash(algorithm);
    try {
      const handle = await open(tempPath, 'wx');
      return new BlobWriter(this, handle, tempPath, hash);
    } catch (error) {
      if (!options.streamThroughOnDiskError) throw error;
      return BlobWriter.diskless(this, tempPath, hash, error);
    }
  }

  /**
   * A writer that only hashes: for content that streams through without being kept, when the store has
   * no room for it under storage.maxSize (issue 9). `reason` is its `diskError`.
   */
  hashOnly(algorithm: DigestAlgorithm, reason: Error): BlobWriter {
    return BlobWriter.diskless(this, path.join(this.tmpDir, randomUUID()), createHash(algorithm), reason);
  }

  /** Removes a kept blob (eviction, or a blob found corrupt). */
  async remove(digest: Digest): Promise<void> {
    await rm(this.pathFor(digest), { force: true });
  }

  /** Names of leftover temp files; start-up removes them, so this is for checks. */
  async tempFiles(): Promise<string[]> {
    return readdir(this.tmpDir);
  }

  /**
   * The store of a running mirror, opened by another process (the CLI's gc and verify): unlike open(), it
   * leaves tmp/ alone, since the fills of the running server are writing there.
   */
  static async attach(root: string): Promise<BlobStore> {
    const store = new BlobStore(root);
    await mkdir(path.join(root, 'blobs'), { recursive: true });
    return store;
  }

  /** Every kept blob with its size and modification time (which eviction uses as the last access). */
  async *list(): AsyncGenerator<KeptBlob> {
    const blobsDir = path.join(this.root, 'blobs');
    for (const algorithm of await listNames(blobsDir)) {
      if (algorithm !== 'sha256' && algorithm !== 'sha512') continue;
      for (const prefix of await listNames(path.join(blobsDir, algorithm))) {
        const dir = path.join(blobsDir, algorithm, prefix);
        for (const hex of await listNames(dir)) {
          // Only content-addressed names: a stray file (an editor's backup, .DS_Store) is not a blob.
          if (hex.length !== (algorithm === 'sha256' ? 64 : 128) || !/^[0-9a-f]+$/.test(hex)) continue;
          try {
            const info = await stat(path.join(dir, hex));
            if (!info.isFile()) continue;
            yield { digest: { algorithm, hex, text: `${algorithm}:${hex}` }, size: info.size, mtimeMs: info.mtimeMs };
          } catch (error) {
            // Removed between listing and stat (evicted by another process): not kept any more.
            if (!isNotFound(error)) throw error;
          }
        }
      }
    }
  }

  /** Modification time of a kept blob (ms), or undefined if it is not kept. */
  async modifiedAt(digest: Digest): Promise<number | undefined> {
    try {
      return (await stat(this.pathFor(digest))).mtimeMs;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Sets a kept blob's access and modification times (eviction's record of its last use); false if not kept. */
  async touch(digest: Digest, at: Date = new Date()): Promise<boolean> {
    try {
      await utimes(this.pathFor(digest), at, at);
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** Bytes in tmp/ now: fills in flight take disk space too, though they cannot be evicted. */
  async tempBytes(): Promise<number> {
    let total = 0;
    for (const name of await listNames(this.tmpDir)) {
      try {
        total += (await stat(path.join(this.tmpDir, name))).size;
      } catch {
        // Committed or aborted meanwhile.
      }
    }
    return total;
  }
}

export interface KeptBlob {
  digest: Digest;
  size: number;
  mtimeMs: number;
}

async function listNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

/** An in-progress blob in tmp/: append, then commit under its digest or abort. */
export class BlobWriter {
  readonly tempPath: string;
  private readonly store: BlobStore;
  private handle: FileHandle | undefined;
  private readonly hash: Hash;
  private bytes = 0;
  private closed = false;
  /** Why the content is no longer being written to disk (only hashed), if it is not. */
  diskError: unknown;
  private tolerateDiskErrors = false;

  constructor(store: BlobStore, handle: FileHandle | undefined, tempPath: string, hash: Hash) {
    this.store = store;
    this.handle = handle;
    this.tempPath = tempPath;
    this.hash = hash;
  }

  /** A writer for a store that cannot take the file at all: hashes only. */
  static diskless(store: BlobStore, tempPath: string, hash: Hash, error: unknown): BlobWriter {
    const writer = new BlobWriter(store, undefined, tempPath, hash);
    writer.diskError = error;
    writer.closed = true;
    return writer;
  }

  /** From now on a disk failure drops the file and keeps hashing instead of throwing. */
  streamThroughOnDiskError(): this {
    this.tolerateDiskErrors = true;
    return this;
  }

  get written(): number {
    return this.bytes;
  }

  /**
   * Stops keeping this content: the temp file goes, hashing goes on (like a disk error under
   * `streamThroughOnDiskError`). For a fill of unannounced size that outgrew the room left under
   * storage.maxSize (issue 9). Call it between writes, never while one is under way.
   */
  async dropFile(reason: Error): Promise<void> {
    if (this.diskError !== undefined) return;
    this.diskError = reason;
    await this.abort();
  }

  async write(chunk: Buffer): Promise<void> {
    await this.writeMany([chunk]);
  }

  /** Appends several chunks with one system call where the kernel takes them whole (writev). */
  async writeMany(chunks: Buffer[]): Promise<void> {
    for (const chunk of chunks) this.hash.update(chunk);
    const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    if (this.diskError === undefined) {
      try {
        await this.writeToDisk(chunks, total);
      } catch (error) {
        if (!this.tolerateDiskErrors) throw error;
        this.diskError = error;
        await this.abort();
      }
    }
    this.bytes += total;
  }

  private async writeToDisk(chunks: Buffer[], total: number): Promise<void> {
    const handle = this.handle as FileHandle;
    const { bytesWritten } = await handle.writev(chunks, this.bytes);
    // A short writev (rare on regular files) is finished chunk by chunk from where it stopped.
    let done = bytesWritten;
    let skipped = 0;
    for (const chunk of chunks) {
      const chunkEnd = skipped + chunk.length;
      if (done < chunkEnd) {
        let offset = done - skipped;
        while (offset < chunk.length) {
          const { bytesWritten: n } = await handle.write(chunk, offset, chunk.length - offset, this.bytes + skipped + offset);
          offset += n;
        }
        done = chunkEnd;
      }
      skipped = chunkEnd;
    }
    if (done !== total) throw new Error('short write');
  }

  /** Verifies then keeps: see verify() and persist(). */
  async commit(digest: Digest): Promise<void> {
    await this.verify(digest);
    await this.persist(digest);
  }

  /** Checks the content written so far against `digest`; on a mismatch deletes it and throws DIGEST_INVALID. */
  async verify(digest: Digest): Promise<void> {
    const actual = this.hash.digest('hex');
    if (actual !== digest.hex) {
      await this.abort();
      throw new RegistryError('DIGEST_INVALID', 'upstream content does not match its digest', {
        detail: { expected: digest.text, actual: `${digest.algorithm}:${actual}` },
      });
    }
  }

  /** Renames verified content into place under its digest. */
  async persist(digest: Digest): Promise<void> {
    if (this.diskError !== undefined || !this.handle) throw new Error('not kept: the store could not be written', { cause: this.diskError });
    // Data on disk before the name points at it: a crash never leaves a verified name on partial content.
    await this.handle.datasync();
    await this.handle.close();
    this.closed = true;
    const target = this.store.pathFor(digest);
    await mkdir(path.dirname(target), { recursive: true });
    await rename(this.tempPath, target);
  }

  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.handle?.close().catch(() => undefined);
    }
    await rm(this.tempPath, { force: true });
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}
