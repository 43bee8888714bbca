// The blob store on a filesystem — the only code that knows this layout (issue 10):
//
//   <root>/blobs/<algorithm>/<first two hex>/<hex>   kept blobs, shared by every upstream and repository
//   <root>/tmp/<uuid>                                 writes in flight (same filesystem: commit is a rename)
//   <root>/eviction.lock                              the sweeper's lock file (lock('eviction'))
//   <root>/leases/<name>.lock                         workers' leases without Redis (notedLock(name))
//   <root>/metadata.lmdb/                             the embedded metadata (LMDB), when there is no Redis
//   <root>/metadata.log                               an older version's metadata log, imported once and renamed
//
// Writers go to tmp/, hash while writing, and are renamed into place only when the digest matches, so a
// blob path only ever holds verified content. A blob's last use is its file's mtime (see touch()).
// Replicas sharing the directory follow each other's fills by reading the leader's temp file, named by
// the writer's id (a UUID) that the fill lease publishes: the file grows as the upstream sends, and a
// reader holding it open keeps reading the same inode after the rename into place.

import { mkdir, open, readdir, readFile, rename, rm, stat, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { ExclusiveLock, NotedLock } from '../leases/lease.ts';
import type { Digest, DigestAlgorithm } from '../reference.ts';
import { type BlobStat, type BlobStore, type BlobWriter, type ByteRange, type CreateOptions, type InFlightReader, type InFlightUsage, type KeptBlob, type StoreUsage, usageOf } from './blob-store.ts';
import { FileLock, notedLockFile } from './file-lock.ts';
import { HashingWriter, putVerified } from './hashing-writer.ts';
import { fileReader } from './file-reader.ts';
import { readKeptFile } from './kept-file-reader.ts';

/**
 * Chunks per writev() at most. A fill hands over whatever arrived during its previous write, which under
 * load is ~32 socket reads of 64 KiB, and one writev of 32 fresh 64 KiB buffers cost five times the kernel
 * time of the same bytes in groups of 8 (256 MiB into ext4 on Linux 6.18: 0.31–0.39 s against 0.05–0.07 s,
 * repeatably; one chunk per call: 0.08–0.10 s). The page-cache copy is the largest single cost of a cold
 * fill (issue 11, item 3).
 */
const WRITE_SEGMENTS = 8;
/** Temp files are named by randomUUID(). */
const TEMP_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A shared temp file this old belongs to a replica that died mid-fill. */
const STALE_SHARED_TEMP_MS = 10 * 60_000;
const LOCK_NAME = /^[a-z0-9-]+$/;

export class FilesystemBlobStore implements BlobStore {
  private readonly root: string;
  private readonly blobsDir: string;
  private readonly tmpDir: string;

  private constructor(root: string) {
    this.root = root;
    this.blobsDir = path.join(root, 'blobs');
    this.tmpDir = path.join(root, 'tmp');
  }

  /**
   * Creates the layout and removes temp files left by a process that died mid-fill. A store shared with
   * other replicas keeps recent temp files: they may be fills other replicas are writing right now.
   */
  static async open(root: string, options: { sharedWithReplicas?: boolean } = {}): Promise<FilesystemBlobStore> {
    const store = new FilesystemBlobStore(root);
    await mkdir(store.blobsDir, { recursive: true });
    if (options.sharedWithReplicas) {
      await mkdir(store.tmpDir, { recursive: true });
      await store.removeTempFilesOlderThan(STALE_SHARED_TEMP_MS);
    } else {
      await rm(store.tmpDir, { recursive: true, force: true });
      await mkdir(store.tmpDir, { recursive: true });
    }
    return store;
  }

  /**
   * The store of a running mirror, opened by another process (the CLI's gc and verify): unlike open(), it
   * leaves tmp/ alone, since the fills of the running server are writing there.
   */
  static async attach(root: string): Promise<FilesystemBlobStore> {
    const store = new FilesystemBlobStore(root);
    await mkdir(store.blobsDir, { recursive: true });
    return store;
  }

  /** Where a kept blob's file is; for tests that corrupt or inspect files on disk. */
  pathFor(digest: Digest): string {
    return path.join(this.blobsDir, digest.algorithm, digest.hex.slice(0, 2), digest.hex);
  }

  /**
   * A kept blob's file relative to the store's blobs/ directory, with `/` separators: what nginx is told
   * to send (serve.offload, X-Accel-Redirect) from the one directory it is given. Not checked for being
   * kept: the caller just found it kept, and nginx falls back to the mirror if it went meanwhile.
   */
  offloadPath(digest: Digest): string {
    return path.relative(this.blobsDir, this.pathFor(digest)).split(path.sep).join('/');
  }

  async stat(digest: Digest): Promise<BlobStat | undefined> {
    const info = await ifKept(stat(this.pathFor(digest)));
    return info && { size: info.size };
  }

  open(digest: Digest, range?: ByteRange): Readable {
    return readKeptFile(this.pathFor(digest), range?.start, range?.end);
  }

  async readAll(digest: Digest): Promise<Buffer | undefined> {
    return ifKept(readFile(this.pathFor(digest)));
  }

  async put(digest: Digest, bytes: Buffer): Promise<void> {
    await putVerified(this, digest, bytes);
  }

  async *list(): AsyncGenerator<KeptBlob> {
    for (const algorithm of await listNames(this.blobsDir)) {
      if (algorithm !== 'sha256' && algorithm !== 'sha512') continue;
      for (const prefix of await listNames(path.join(this.blobsDir, algorithm))) {
        const dir = path.join(this.blobsDir, algorithm, prefix);
        for (const hex of await listNames(dir)) {
          // Only content-addressed names: a stray file (an editor's backup, .DS_Store) is not a blob.
          if (hex.length !== (algorithm === 'sha256' ? 64 : 128) || !/^[0-9a-f]+$/.test(hex)) continue;
          // Removed between listing and stat (evicted by another process): not kept any more.
          const info = await ifKept(stat(path.join(dir, hex)));
          if (!info?.isFile()) continue;
          yield { digest: { algorithm, hex, text: `${algorithm}:${hex}` }, size: info.size, accessedAt: info.mtimeMs };
        }
      }
    }
  }

  async remove(digest: Digest): Promise<void> {
    await rm(this.pathFor(digest), { force: true });
  }

  /**
   * The last use is the file's mtime, set here with utimes(). Why the file and not the metadata store: it
   * survives restarts with nothing else to persist; every replica sharing the volume sees every other's
   * accesses without coordination; it is exactly as durable as the blob (losing Redis loses no access
   * history, and an evicted blob takes its record with it); and listing stats every file anyway for its
   * size, so the time comes for free. Why mtime and not atime: atime depends on mount options (noatime,
   * relatime), mtime changes only when we say so — kept blobs are immutable, and a commit is a rename,
   * which keeps the temp file's mtime (the moment it was written).
   */
  async touch(digest: Digest, at: Date = new Date()): Promise<boolean> {
    return (await ifKept(utimes(this.pathFor(digest), at, at).then(() => true))) ?? false;
  }

  async accessedAt(digest: Digest): Promise<number | undefined> {
    return (await ifKept(stat(this.pathFor(digest))))?.mtimeMs;
  }

  usage(): Promise<StoreUsage> {
    return usageOf(this.list());
  }

  async create(algorithm: DigestAlgorithm, options: CreateOptions = {}): Promise<BlobWriter> {
    const id = randomUUID();
    const tempPath = path.join(this.tmpDir, id);
    try {
      const handle = await open(tempPath, 'wx');
      return new FileWriter(algorithm, id, tempPath, (digest) => this.pathFor(digest), handle);
    } catch (error) {
      if (!options.streamThroughOnDiskError) throw error;
      return new FileWriter(algorithm, id, tempPath, (digest) => this.pathFor(digest), undefined, error);
    }
  }

  /** Counts tmp/: fills in flight, this process's and other replicas', take disk space too. */
  async inFlight(): Promise<InFlightUsage> {
    let bytes = 0;
    const names = await listNames(this.tmpDir);
    for (const name of names) {
      // Committed or aborted meanwhile: counts as nothing.
      bytes += (await stat(path.join(this.tmpDir, name)).catch(() => undefined))?.size ?? 0;
    }
    return { writes: names.length, bytes };
  }

  async openInFlight(digest: Digest, writeId?: string): Promise<InFlightReader | undefined> {
    const tempPath = writeId === undefined ? undefined : this.tempPathFor(writeId);
    // A reader holding the temp file keeps it readable after the rename (same inode)...
    const handle =
      (tempPath === undefined ? undefined : await ifKept(open(tempPath, 'r'))) ??
      // ...and one that comes after the rename reads the kept blob: the same bytes.
      (await ifKept(open(this.pathFor(digest), 'r')));
    return handle && fileReader(handle);
  }

  async discardInFlight(writeId: string): Promise<void> {
    const tempPath = this.tempPathFor(writeId);
    // Readers that have it open keep their copy; nobody else needs it.
    if (tempPath) await rm(tempPath, { force: true });
  }

  async probe(): Promise<void> {
    // In tmp/, which start-up empties, so a probe interrupted by a crash leaves nothing behind for long.
    const probe = path.join(this.tmpDir, `readyz-${randomUUID()}`);
    try {
      await writeFile(probe, 'ok');
    } finally {
      await rm(probe, { force: true }).catch(() => undefined);
    }
  }

  lock(name: string, leaseMs: number): ExclusiveLock {
    if (!LOCK_NAME.test(name)) throw new Error(`not a lock name: ${name}`);
    return new FileLock(path.join(this.root, `${name}.lock`), leaseMs);
  }

  notedLock(name: string, leaseMs: number): NotedLock {
    return new FileLock(notedLockFile(path.join(this.root, 'leases'), name), leaseMs);
  }

  embeddedMetadataPath(): string {
    return path.join(this.root, 'metadata.log');
  }

  /** The temp file of the write `id`; undefined if that is not such a name. */
  private tempPathFor(id: string): string | undefined {
    // Ids come from other replicas through Redis: only our own UUID names are accepted, never a path.
    return TEMP_NAME.test(id) ? path.join(this.tmpDir, id) : undefined;
  }

  /**
   * Temp files of writers that died (a replica killed mid-fill on a shared store), run by the sweeper.
   * Never less than the stale age used at start: a live fill writes to its file continuously, but one
   * waiting on a slow upstream may pause.
   */
  async sweepOrphans(olderThanMs: number): Promise<{ files: number }> {
    return { files: await this.removeTempFilesOlderThan(Math.max(olderThanMs, STALE_SHARED_TEMP_MS)) };
  }

  /** Removes temp files untouched for `ageMs` (a live fill writes to its file continuously). */
  private async removeTempFilesOlderThan(ageMs: number): Promise<number> {
    const cutoff = Date.now() - ageMs;
    let removed = 0;
    for (const name of await readdir(this.tmpDir).catch(() => [])) {
      const file = path.join(this.tmpDir, name);
      const info = await stat(file).catch(() => undefined);
      if (info && info.mtimeMs < cutoff) {
        await rm(file, { force: true });
        removed += 1;
      }
    }
    return removed;
  }
}

/** A write into tmp/, renamed into place under its digest once verified. */
class FileWriter extends HashingWriter {
  private readonly tempPath: string;
  private readonly target: (digest: Digest) => string;
  private handle: FileHandle | undefined;

  constructor(
    algorithm: DigestAlgorithm,
    id: string,
    tempPath: string,
    target: (digest: Digest) => string,
    handle: FileHandle | undefined,
    storeError?: unknown,
  ) {
    super(algorithm, { id, storeError });
    this.tempPath = tempPath;
    this.target = target;
    this.handle = handle;
  }

  protected async append(chunks: Buffer[], offset: number, total: number): Promise<void> {
    let at = offset;
    for (let first = 0; first < chunks.length; first += WRITE_SEGMENTS) {
      const group = chunks.slice(first, first + WRITE_SEGMENTS);
      const length = group.reduce((sum, chunk) => sum + chunk.length, 0);
      await this.appendGroup(group, at, length);
      at += length;
    }
    if (at - offset !== total) throw new Error('short write');
  }

  private async appendGroup(chunks: Buffer[], offset: number, total: number): Promise<void> {
    const handle = this.handle as FileHandle;
    const { bytesWritten } = await handle.writev(chunks, offset);
    // A short writev (rare on regular files) is finished chunk by chunk from where it stopped.
    let done = bytesWritten;
    let skipped = 0;
    for (const chunk of chunks) {
      const chunkEnd = skipped + chunk.length;
      if (done < chunkEnd) {
        let at = done - skipped;
        while (at < chunk.length) {
          const { bytesWritten: n } = await handle.write(chunk, at, chunk.length - at, offset + skipped + at);
          at += n;
        }
        done = chunkEnd;
      }
      skipped = chunkEnd;
    }
    if (done !== total) throw new Error('short write');
  }

  protected async keep(digest: Digest): Promise<void> {
    const handle = this.handle as FileHandle;
    // Data on disk before the name points at it: a crash never leaves a verified name on partial content.
    await handle.datasync();
    this.handle = undefined;
    await handle.close();
    const target = this.target(digest);
    await mkdir(path.dirname(target), { recursive: true });
    await rename(this.tempPath, target);
  }

  protected async discard(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
    await rm(this.tempPath, { force: true });
  }
}

async function listNames(dir: string): Promise<string[]> {
  return (await ifKept(readdir(dir))) ?? [];
}

/** The operation's result, or undefined when the file is not there (ENOENT). */
async function ifKept<T>(operation: Promise<T>): Promise<T | undefined> {
  try {
    return await operation;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
