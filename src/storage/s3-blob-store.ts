// The blob store on S3-compatible object storage (issue 10) — the only code that knows this layout:
//
//   <prefix>blobs/<algorithm>/<hex>   kept blobs: only ever verified content (written by a copy after the check)
//   <prefix>uploads/<write id>        writes in flight (a multipart upload, or a finished temporary object)
//   <scratch>/tmp/<write id>          the same bytes on local disk, for this process's readers of the fill
//   <scratch>/<name>.lock             the sweeper's lock without Redis (processes sharing the scratch dir)
//   <scratch>/metadata.lmdb/          the embedded metadata (LMDB), when there is no Redis (an older
//                                     version's metadata.log beside it is imported once)
//
// A write hashes while it writes (HashingWriter) and streams to <prefix>uploads/<id> through lib-storage's
// Upload — one PutObject for small content, a multipart upload (partSize parts) for large — and becomes the
// content-addressed object only after the digest matched: CopyObject to the final key (UploadPartCopy
// parts above 5 GiB, the single-copy limit), then DeleteObject of the temporary key. A process killed
// mid-write therefore leaves only a temporary key or an incomplete multipart upload, never a visible
// partial blob; sweepOrphans() removes those once they are older than the orphan age. The one sweeper
// calls it under its lease (src/eviction/evictor.ts: at start and every eviction interval), so replicas do
// not each list the bucket on a timer of their own. Conditional create (PutObject If-None-Match: *) is not used: RGW honours it only on a
// single-part PutObject, never on the CompleteMultipartUpload or CopyObject a large verified blob needs.
//
// The in-flight bytes also go to a local scratch file, because an S3 multipart upload cannot be read
// before it completes: a reader of this process's fill that falls out of the fill's memory window reads
// that file (openInFlight with the write's id). Writes of other processes cannot be followed through the
// store (openInFlight gives only the kept blob), so replicas follow each other through the leader replica.
//
// A blob's last use (touch) is kept here only in this process's memory, falling back to the object's
// LastModified (its commit time): S3 objects cannot change their mtime, and rewriting an object's
// metadata to record a use would copy it. The lasting LRU order is the metadata store's: eviction's view of
// this store (src/eviction/persisted-access.ts) writes uses there in batches and reads them back per sweep,
// so it survives restarts and is shared by replicas.

import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  S3Client,
  S3ServiceException,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { RegistryError } from '../errors.ts';
import type { ExclusiveLock, NotedLock } from '../leases/lease.ts';
import type { Logger } from '../logger.ts';
import type { Digest, DigestAlgorithm } from '../reference.ts';
import {
  type BlobStat,
  type BlobStore,
  type BlobWriter,
  type ByteRange,
  type CreateOptions,
  type InFlightReader,
  type InFlightUsage,
  type KeptBlob,
  notKept,
  type StoreUsage,
  usageOf,
} from './blob-store.ts';
import { FileLock, notedLockFile } from './file-lock.ts';
import { HashingWriter, putVerified } from './hashing-writer.ts';
import { fileReader } from './file-reader.ts';

const MiB = 1024 * 1024;
/** Multipart part size: 8 MiB × S3's 10 000 parts = 78 GiB, above limits.maxBlobSize's 20 GiB default. */
const DEFAULT_PART_SIZE = 8 * MiB;
/** The largest object one CopyObject may copy (S3's limit); larger ones are copied in parts. */
const SINGLE_COPY_LIMIT = 5 * 1024 * MiB;
const DEFAULT_COPY_PART_SIZE = 1024 * MiB;
/** A temporary key or multipart upload untouched this long belongs to a writer that died. */
const DEFAULT_ORPHAN_AGE_MS = 10 * 60_000;
const WRITE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LOCK_NAME = /^[a-z0-9-]+$/;
const HEX = { sha256: /^[0-9a-f]{64}$/, sha512: /^[0-9a-f]{128}$/ } as const;

export interface S3BlobStoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix ("" or ending in "/"). */
  prefix?: string;
  /** Local directory for in-flight copies, locks and the embedded metadata (storage.path). */
  scratchDir: string;
  /** Temporary keys and multipart uploads older than this are orphans (default 10 min). */
  orphanAgeMs?: number;
  partSize?: number;
  /** Objects above this are copied with UploadPartCopy (default 5 GiB, S3's CopyObject limit). */
  singleCopyLimit?: number;
  copyPartSize?: number;
  log?: Logger;
  /** How messages name the endpoint (default "AWS S3"). */
  endpoint?: string;
  /**
   * Signs presigned URLs (storage.s3.redirect): a client for the endpoint clients reach the bucket by
   * (storage.s3.publicEndpoint), else `client`. Signing makes no request.
   */
  presignClient?: S3Client;
}

/** How long a presigned blob URL stays valid: long enough to start a large layer on a slow link. */
const PRESIGNED_URL_SECONDS = 20 * 60;

/** What S3 answered, reduced to what the store acts on. */
function statusOf(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}

function isMissing(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name;
  return statusOf(error) === 404 || name === 'NotFound' || name === 'NoSuchKey' || name === 'NoSuchUpload';
}

/**
 * An object store that cannot be reached or fails (5xx) makes reads answer 503, not 500: the mirror is
 * fine, its storage is not (and the client may retry). Other errors pass unchanged.
 */
function unavailable(error: unknown): unknown {
  const status = statusOf(error);
  if (error instanceof RegistryError || (status !== undefined && status < 500)) return error;
  return new RegistryError('UNAVAILABLE', 'object storage unavailable', { cause: error });
}

async function ifPresent<T>(operation: Promise<T>): Promise<T | undefined> {
  try {
    return await operation;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw unavailable(error);
  }
}

export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  readonly bucket: string;
  private readonly prefix: string;
  private readonly scratchDir: string;
  private readonly tmpDir: string;
  private readonly orphanAgeMs: number;
  private readonly log: Logger | undefined;
  private readonly endpoint: string;
  readonly partSize: number;
  readonly singleCopyLimit: number;
  readonly copyPartSize: number;
  /** This process's writes in flight, by id. */
  private readonly writes = new Map<string, S3Writer>();
  /** Last uses recorded by this process (ms), by key. */
  private readonly lastUse = new Map<string, number>();
  /** Readers of kept blobs open in this process, by key: a removal waits for them (see remove()). */
  private readonly readers = new Map<string, number>();
  /** Keys removed while readers had them open: gone for everyone else, deleted when the last reader closes. */
  private readonly removing = new Set<string>();
  private readonly presignClient: S3Client;

  private constructor(options: S3BlobStoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    this.scratchDir = options.scratchDir;
    this.tmpDir = path.join(options.scratchDir, 'tmp');
    this.orphanAgeMs = options.orphanAgeMs ?? DEFAULT_ORPHAN_AGE_MS;
    this.partSize = options.partSize ?? DEFAULT_PART_SIZE;
    this.singleCopyLimit = options.singleCopyLimit ?? SINGLE_COPY_LIMIT;
    this.copyPartSize = options.copyPartSize ?? DEFAULT_COPY_PART_SIZE;
    this.log = options.log;
    this.endpoint = options.endpoint ?? 'AWS S3';
    this.presignClient = options.presignClient ?? options.client;
  }

  /**
   * Checks the bucket (HeadBucket: it exists, the credentials are accepted, the endpoint answers), prepares
   * the scratch dir (this process's leftovers from a crash go). Orphans in the bucket are the sweeper's.
   */
  static async open(options: S3BlobStoreOptions, openOptions: { attach?: boolean } = {}): Promise<S3BlobStore> {
    const store = new S3BlobStore(options);
    await store.probe();
    if (openOptions.attach) {
      await mkdir(store.tmpDir, { recursive: true });
      return store;
    }
    // The scratch dir is this process's (a replica's own disk); its temp files die with their writer.
    await rm(store.tmpDir, { recursive: true, force: true });
    await mkdir(store.tmpDir, { recursive: true });
    return store;
  }

  /** Closes the client's connections. */
  close(): void {
    this.client.destroy();
    if (this.presignClient !== this.client) this.presignClient.destroy();
  }

  /** A short-lived GET URL for a kept blob (storage.s3.redirect); undefined when it is not kept. */
  async presignedUrl(digest: Digest): Promise<string | undefined> {
    // A blob being filled (here or by another replica) has no object yet: it is streamed, never redirected.
    if (!(await this.stat(digest))) return undefined;
    return getSignedUrl(this.presignClient, new GetObjectCommand({ Bucket: this.bucket, Key: this.keyFor(digest) }), { expiresIn: PRESIGNED_URL_SECONDS });
  }

  keyFor(digest: Digest): string {
    return `${this.prefix}blobs/${digest.algorithm}/${digest.hex}`;
  }

  uploadKeyFor(id: string): string {
    return `${this.prefix}uploads/${id}`;
  }

  async stat(digest: Digest): Promise<BlobStat | undefined> {
    const key = this.keyFor(digest);
    if (this.removing.has(key)) return undefined;
    const head = await ifPresent(this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })));
    return head && { size: head.ContentLength ?? 0 };
  }

  /** A ranged GetObject, streamed as S3 sends it: no whole object is ever held in memory. */
  open(digest: Digest, range?: ByteRange): Readable {
    const key = this.keyFor(digest);
    const { client, bucket } = this;
    const hidden = this.removing.has(key);
    const abort = new AbortController();
    async function* body(): AsyncGenerator<Buffer> {
      if (hidden) throw notKept(digest);
      let out;
      try {
        out = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: key, ...(range && { Range: `bytes=${range.start}-${range.end}` }) }),
          { abortSignal: abort.signal },
        );
      } catch (error) {
        if (isMissing(error)) throw notKept(digest);
        throw unavailable(error);
      }
      const stream = out.Body as Readable;
      try {
        for await (const chunk of stream) yield chunk as Buffer;
      } finally {
        stream.destroy();
      }
    }
    const readable = Readable.from(body(), { objectMode: false, highWaterMark: MiB });
    readable.once('close', () => abort.abort());
    return readable;
  }

  async readAll(digest: Digest): Promise<Buffer | undefined> {
    const key = this.keyFor(digest);
    if (this.removing.has(key)) return undefined;
    const out = await ifPresent(this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })));
    return out && Buffer.from(await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
  }

  async put(digest: Digest, bytes: Buffer): Promise<void> {
    await putVerified(this, digest, bytes);
  }

  /** ListObjectsV2, page by page (1000 keys each). */
  async *list(): AsyncGenerator<KeptBlob> {
    const root = `${this.prefix}blobs/`;
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: root, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        const key = object.Key ?? '';
        const [algorithm, hex, ...rest] = key.slice(root.length).split('/');
        if (rest.length > 0 || (algorithm !== 'sha256' && algorithm !== 'sha512') || !HEX[algorithm].test(hex ?? '')) continue;
        if (this.removing.has(key)) continue;
        yield {
          digest: { algorithm, hex: hex as string, text: `${algorithm}:${hex}` },
          size: object.Size ?? 0,
          accessedAt: this.lastUse.get(key) ?? object.LastModified?.getTime() ?? 0,
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * Removes a kept blob. One that a reader of this process holds open (openInFlight) disappears for
   * everyone else at once, and its object is deleted when the last such reader closes: an object cannot
   * be read after its deletion, unlike an open file.
   */
  async remove(digest: Digest): Promise<void> {
    const key = this.keyFor(digest);
    this.lastUse.delete(key);
    if ((this.readers.get(key) ?? 0) > 0) {
      this.removing.add(key);
      return;
    }
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async touch(digest: Digest, at: Date = new Date()): Promise<boolean> {
    const key = this.keyFor(digest);
    if (!(await this.stat(digest))) {
      this.lastUse.delete(key);
      return false;
    }
    this.lastUse.set(key, at.getTime());
    return true;
  }

  async accessedAt(digest: Digest): Promise<number | undefined> {
    const key = this.keyFor(digest);
    if (this.removing.has(key)) return undefined;
    const head = await ifPresent(this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })));
    if (!head) return undefined;
    return this.lastUse.get(key) ?? head.LastModified?.getTime() ?? 0;
  }

  usage(): Promise<StoreUsage> {
    return usageOf(this.list());
  }

  async create(algorithm: DigestAlgorithm, options: CreateOptions = {}): Promise<BlobWriter> {
    const id = randomUUID();
    const tempPath = path.join(this.tmpDir, id);
    let handle: FileHandle;
    try {
      handle = await open(tempPath, 'wx');
    } catch (error) {
      if (!options.streamThroughOnDiskError) throw error;
      return new S3Writer(this, algorithm, id, tempPath, undefined, error);
    }
    const writer = new S3Writer(this, algorithm, id, tempPath, handle);
    this.writes.set(id, writer);
    return writer;
  }

  /** This process's writes only: other replicas' uploads are theirs to count. */
  async inFlight(): Promise<InFlightUsage> {
    let bytes = 0;
    for (const writer of this.writes.values()) bytes += writer.written;
    return { writes: this.writes.size, bytes };
  }

  async openInFlight(digest: Digest, writeId?: string): Promise<InFlightReader | undefined> {
    // This process's write: its local copy (a reader holding it keeps reading after the commit removes it).
    if (writeId !== undefined && this.writes.has(writeId)) {
      const handle = await open(path.join(this.tmpDir, writeId), 'r').catch(() => undefined);
      if (handle) return fileReader(handle);
    }
    // Another process's write cannot be read before it is kept; the kept blob can.
    return this.keptReader(digest);
  }

  async discardInFlight(writeId: string): Promise<void> {
    if (!WRITE_ID.test(writeId)) return;
    const own = this.writes.get(writeId);
    if (own) {
      await own.abort();
      return;
    }
    // A dead replica's write: its temporary object and any multipart upload under its key.
    await this.removeUpload(this.uploadKeyFor(writeId));
  }

  /** HeadBucket: the bucket exists, the credentials are accepted and the endpoint answers. */
  async probe(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      throw describeBucketError(error, this.bucket, this.endpoint);
    }
  }

  /** Without Redis: a lock file in the scratch dir (processes of one host; see README "Object storage"). */
  lock(name: string, leaseMs: number): ExclusiveLock {
    if (!LOCK_NAME.test(name)) throw new Error(`not a lock name: ${name}`);
    return new FileLock(path.join(this.scratchDir, `${name}.lock`), leaseMs);
  }

  notedLock(name: string, leaseMs: number): NotedLock {
    // Workers on one host share the scratch directory (their leases), not the bucket's uploads in flight.
    return new FileLock(notedLockFile(path.join(this.scratchDir, 'leases'), name), leaseMs);
  }

  embeddedMetadataPath(): string {
    return path.join(this.scratchDir, 'metadata.log');
  }

  /**
   * Removes what writers that died left in the bucket: temporary objects and incomplete multipart uploads
   * under <prefix>uploads/ untouched for the orphan age (a live upload adds a part every few seconds).
   * Idempotent, so replicas may run it at once. Returns what it removed.
   */
  async sweepOrphans(ageMs = this.orphanAgeMs): Promise<{ objects: number; uploads: number }> {
    const cutoff = Date.now() - ageMs;
    const root = `${this.prefix}uploads/`;
    const own = (key: string): boolean => this.writes.has(key.slice(root.length));
    let objects = 0;
    let uploads = 0;
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: root, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        if (!object.Key || own(object.Key) || (object.LastModified?.getTime() ?? 0) > cutoff) continue;
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: object.Key }));
        objects += 1;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: root, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
      );
      for (const upload of page.Uploads ?? []) {
        if (!upload.Key || !upload.UploadId || own(upload.Key) || (upload.Initiated?.getTime() ?? 0) > cutoff) continue;
        if ((await this.lastPartAt(upload.Key, upload.UploadId)) > cutoff) continue;
        await ifPresent(this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: upload.Key, UploadId: upload.UploadId })));
        uploads += 1;
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
    if (objects + uploads > 0) this.log?.info({ objects, uploads }, 'object storage: removed orphaned uploads');
    return { objects, uploads };
  }

  /** When the last part of a multipart upload arrived (0 with none): an old upload may still be growing. */
  private async lastPartAt(key: string, uploadId: string): Promise<number> {
    let latest = 0;
    let marker: string | undefined;
    do {
      const page = await ifPresent(this.client.send(new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker })));
      if (!page) return latest;
      for (const part of page.Parts ?? []) latest = Math.max(latest, part.LastModified?.getTime() ?? 0);
      marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
    } while (marker);
    return latest;
  }

  /** Deletes a temporary key and aborts any multipart upload under it. */
  async removeUpload(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    const page = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: key }));
    for (const upload of page.Uploads ?? []) {
      if (upload.Key !== key || !upload.UploadId) continue;
      await ifPresent(this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: upload.UploadId })));
    }
  }

  /** Copies a verified temporary object to its content-addressed key: CopyObject, or UploadPartCopy parts. */
  async copyToKept(from: string, to: string, size: number): Promise<void> {
    const CopySource = encodeURI(`${this.bucket}/${from}`);
    if (size <= this.singleCopyLimit) {
      await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource }));
      return;
    }
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: to }));
    try {
      const parts: CompletedPart[] = [];
      for (let start = 0, PartNumber = 1; start < size; start += this.copyPartSize, PartNumber += 1) {
        const end = Math.min(start + this.copyPartSize, size) - 1;
        const out = await this.client.send(
          new UploadPartCopyCommand({ Bucket: this.bucket, Key: to, UploadId, PartNumber, CopySource, CopySourceRange: `bytes=${start}-${end}` }),
        );
        parts.push({ PartNumber, ETag: out.CopyPartResult?.ETag });
      }
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (error) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId })).catch(() => undefined);
      throw error;
    }
  }

  /** @internal A write that ended (kept or dropped). */
  forgetWrite(id: string, keptKey?: string): void {
    this.writes.delete(id);
    if (keptKey !== undefined) {
      // Kept again after a removal that waited for readers: the object stays.
      this.removing.delete(keptKey);
      this.lastUse.delete(keptKey);
    }
  }

  /** A kept blob read by ranged GETs; its removal waits until the reader closes. */
  private async keptReader(digest: Digest): Promise<InFlightReader | undefined> {
    const key = this.keyFor(digest);
    const stat = await this.stat(digest);
    if (!stat) return undefined;
    this.readers.set(key, (this.readers.get(key) ?? 0) + 1);
    let closed = false;
    return {
      size: async () => stat.size,
      read: async (position, length) => {
        const end = Math.min(position + length, stat.size) - 1;
        if (length <= 0 || position > end) return Buffer.alloc(0);
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${position}-${end}` }));
        return Buffer.from(await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
      },
      close: async () => {
        if (closed) return;
        closed = true;
        const left = (this.readers.get(key) ?? 1) - 1;
        if (left > 0) {
          this.readers.set(key, left);
          return;
        }
        this.readers.delete(key);
        if (this.removing.delete(key)) await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
      },
    };
  }
}

/**
 * A write: hashed (HashingWriter), appended to a local scratch file for this process's readers, and
 * streamed to the temporary key through lib-storage's Upload as it is written.
 */
class S3Writer extends HashingWriter {
  private readonly store: S3BlobStore;
  private readonly tempPath: string;
  private readonly key: string;
  private handle: FileHandle | undefined;
  private readonly body: PassThrough | undefined;
  private readonly upload: Promise<unknown> | undefined;
  private uploadError: unknown;
  private readonly failed: Promise<never> | undefined;

  constructor(store: S3BlobStore, algorithm: DigestAlgorithm, id: string, tempPath: string, handle: FileHandle | undefined, storeError?: unknown) {
    super(algorithm, { id, storeError });
    this.store = store;
    this.tempPath = tempPath;
    this.key = store.uploadKeyFor(id);
    this.handle = handle;
    if (!handle) return;
    this.body = new PassThrough({ highWaterMark: MiB });
    // queueSize 2: at most ~3 parts of this write in memory (the one being filled and two on the wire).
    const upload = new Upload({ client: store.client, params: { Bucket: store.bucket, Key: this.key, Body: this.body }, partSize: store.partSize, queueSize: 2 });
    this.upload = upload.done();
    this.failed = this.upload.then(
      () => new Promise<never>(() => undefined),
      (error: unknown) => {
        this.uploadError = error;
        throw error;
      },
    );
    this.failed.catch(() => undefined);
  }

  protected async append(chunks: Buffer[], offset: number, total: number): Promise<void> {
    if (this.uploadError !== undefined) throw this.uploadError;
    const handle = this.handle as FileHandle;
    const body = this.body as PassThrough;
    // Copies: the upload holds what it is given until a part is complete, and a writer's chunks may be
    // reused once the write returns (BlobWriter.writeMany).
    for (const chunk of chunks) body.write(Buffer.from(chunk));
    const { bytesWritten } = await handle.writev(chunks, offset);
    if (bytesWritten !== total) throw new Error('short write to the scratch dir');
    // The fill waits for S3 as it waits for a disk: the upload is never more than a buffer behind. (Asked
    // after the file write: the upload may have drained the body meanwhile, and 'drain' would not come again.)
    if (body.writableNeedDrain) await Promise.race([once(body, 'drain'), this.failed]);
  }

  protected async keep(digest: Digest): Promise<void> {
    const body = this.body as PassThrough;
    body.end();
    await this.upload;
    const handle = this.handle as FileHandle;
    this.handle = undefined;
    await handle.close();
    const target = this.store.keyFor(digest);
    await this.store.copyToKept(this.key, target, this.written);
    this.store.forgetWrite(this.id, target);
    await this.store.client.send(new DeleteObjectCommand({ Bucket: this.store.bucket, Key: this.key })).catch(() => undefined);
    // Readers of this process that hold the file keep reading it.
    await rm(this.tempPath, { force: true });
  }

  protected async discard(): Promise<void> {
    this.store.forgetWrite(this.id);
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
    await rm(this.tempPath, { force: true });
    if (!this.body) return;
    // An error in the body fails the upload, which aborts its multipart upload before done() settles.
    this.body.destroy(new Error('write discarded'));
    await this.upload?.catch(() => undefined);
    // A single-part upload may have finished already, as may an upload whose commit failed later.
    await this.store.removeUpload(this.key).catch(() => undefined);
  }
}

/** A clear message for a bucket the store cannot use: what is wrong, not only the SDK's error name. */
function describeBucketError(error: unknown, bucket: string, where: string): Error {
  const status = statusOf(error);
  let message: string;
  if (status === 404) message = `storage.s3.bucket: bucket "${bucket}" does not exist at ${where}`;
  else if (status === 403 || status === 401) message = `storage.s3: the credentials were refused by ${where} for bucket "${bucket}" (HTTP ${status})`;
  else if (status !== undefined) message = `storage.s3: ${where} answered HTTP ${status} for bucket "${bucket}"`;
  else message = `storage.s3.endpoint: ${where} cannot be reached (${(error as Error)?.message ?? String(error)})`;
  return Object.assign(new Error(message, { cause: error }), { code: status === undefined ? 'S3_UNREACHABLE' : `S3_HTTP_${status}` });
}

