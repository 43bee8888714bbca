// One upstream download per digest. The fill writes to the store while hashing; every client asking
// for that digest — the first one included — follows it (fill-reader.ts): bytes still in the fill's
// recent-chunks window come straight from memory, older ones from the write in flight, so followers stream
// the in-flight bytes as they arrive instead of fetching again. The fill does not belong to any client: a
// client that disconnects leaves it running to completion.
//
// Each reader's final byte is held back until the digest has been checked, so no client ever receives a
// complete body with the wrong content: on a mismatch the readers fail and the connection is cut.
// The upstream body comes read into a ring of reused buffers (receive-ring.ts); the fill holds each piece's
// slot until the store took it, and readers hold it while they send it.
// Making the blob durable (fsync, rename) happens after that, off the clients' path: flushing a large
// blob to disk would otherwise add its whole write-back time to every cold pull.
//
// What the upstream says is a claim (issue 9): a size it announces above limits.maxBlobSize is refused
// before a byte is read or stored, a body without a size is cut at that limit, and a body that runs past
// its announced size is cut at once, not read to its end and judged after. The size the fill ends with
// (and that eviction and metrics count) is the verified bytes'. Room on disk is asked for before the
// first byte is written (disk-room.ts); without it the content streams through and is not kept.

import { EventEmitter } from 'node:events';
import { RegistryError } from '../errors.ts';
import type { Lease } from '../leases/lease.ts';
import type { Logger } from '../logger.ts';
import type { Digest } from '../reference.ts';
import type { BlobStore, BlobWriter } from './blob-store.ts';
import { hashOnlyWriter } from './hashing-writer.ts';
import { type DiskReservation, type DiskRoom, UNLIMITED_ROOM } from './disk-room.ts';
import type { FillSlot } from './fill-slots.ts';
import { type HeldBytes, RING_SLOTS, SLOT_BYTES } from './receive-ring.ts';
import { RecentChunks } from './recent-chunks.ts';

export interface UpstreamBlob {
  /** Content-Length the upstream announced, if it did. */
  size: number | undefined;
  /** Buffers of its own, or pieces of a ring whose slot (held once for the fill) the fill releases. */
  body: AsyncIterable<Buffer | HeldBytes>;
  /** Drops the body unread (closing its connection rather than draining it). */
  discard?: () => void;
}

type FillState = 'starting' | 'streaming' | 'verified' | 'committed' | 'failed';

/**
 * Bytes of a download kept in memory for readers that keep up; also the most received ahead of the disk.
 * It bounds a fill's memory: with limits.maxConcurrentFills (fill-slots.ts) the fills of a process hold at
 * most maxConcurrentFills × this (plus a chunk each) — 32 × 8 MiB = 256 MiB with the defaults.
 */
export const FILL_MEMORY_WINDOW = RING_SLOTS * SLOT_BYTES;
const RECENT_BYTES = FILL_MEMORY_WINDOW;

export interface FillOptions {
  /** limits.maxBlobSize: larger announced sizes are refused, longer bodies cut. */
  maxBlobSize?: number;
  /** Room under storage.maxSize; absent = always room. */
  disk?: DiskRoom;
}

export class BlobFill extends EventEmitter {
  readonly digest: Digest;
  /** The announced size (never above maxBlobSize) while streaming; the verified size once verified. */
  size: number | undefined;
  /** Bytes received from upstream so far. */
  received = 0;
  /** Bytes in the store's write so far (never ahead of `received`); only hashed once `diskless`. */
  written = 0;
  /** The store failed to take the content: it streams through from memory and is not kept. */
  diskless = false;
  state: FillState = 'starting';
  /** The content matched its digest (set before it is made durable, and kept if that then fails). */
  verified = false;
  error: Error | undefined;
  /**
   * The upstream this fill downloads from (set by whoever starts it). A request through another upstream's
   * route that joins it must pass provenance like a kept blob (issue 9): the bytes are that upstream's.
   */
  upstream: string | undefined;
  /** The store's write in flight (BlobWriter.id), for openInFlight(). */
  writeId: string | undefined;
  /** Settles once the upstream answered: resolves when bytes start flowing, rejects if it refused. */
  readonly started: Promise<void>;
  /** Settles when the blob is kept (resolves) or the fill failed (rejects). */
  readonly finished: Promise<void>;
  readonly recent = new RecentChunks(RECENT_BYTES);
  private readonly store: Pick<BlobStore, 'create'>;
  private readonly maxBlobSize: number;
  private readonly disk: DiskRoom;
  private reservation: DiskReservation | undefined;
  private readonly markStarted: () => void;
  private readonly markStartFailed: (error: Error) => void;

  constructor(digest: Digest, store: Pick<BlobStore, 'create'>, options: FillOptions = {}) {
    super();
    this.setMaxListeners(0);
    this.digest = digest;
    this.store = store;
    this.maxBlobSize = options.maxBlobSize ?? Number.MAX_SAFE_INTEGER;
    this.disk = options.disk ?? UNLIMITED_ROOM;
    let markStarted!: () => void;
    let markStartFailed!: (error: Error) => void;
    this.started = new Promise((resolve, reject) => {
      markStarted = resolve;
      markStartFailed = reject;
    });
    this.finished = new Promise((resolve, reject) => {
      this.once('committed', resolve);
      this.once('failed', reject);
    });
    // Callers that only look at one of the two must not see an unhandled rejection from the other.
    this.finished.catch(() => undefined);
    this.started.catch(() => undefined);
    this.markStarted = markStarted;
    this.markStartFailed = markStartFailed;
  }

  /**
   * Runs the download. Never throws: the outcome is in `state`, `started` and `finished`. Holding `lease`,
   * it tells other replicas which write to follow, and lets go once the blob is kept (or not).
   */
  async run(fetchUpstream: () => Promise<UpstreamBlob>, log: Logger, lease?: Lease, leader?: string): Promise<void> {
    let writer: BlobWriter | undefined;
    let upstream: UpstreamBlob | undefined;
    let published: Promise<void> | undefined;
    // The store's write is opened while the upstream is asked, not after it answered: the first byte then
    // waits for one file-system round trip fewer. An empty write takes no room, so room is still asked for
    // before any byte lands; a write not used (upstream refused, no room) is dropped.
    let opening: Promise<BlobWriter> | undefined = (async () => this.store.create(this.digest.algorithm, { streamThroughOnDiskError: true }))();
    // Its failure is seen where it is awaited.
    opening.catch(() => undefined);
    const dropUnused = async (): Promise<void> => {
      const unused = opening;
      opening = undefined;
      await unused?.then((write) => write.abort(), () => undefined);
    };
    try {
      upstream = await fetchUpstream();
      if (upstream.size !== undefined && upstream.size > this.maxBlobSize) {
        // Not read at all: the upstream connection is closed rather than drained.
        upstream.discard?.();
        throw blobTooLarge(upstream.size, this.maxBlobSize);
      }
      // Room first, so eviction makes it before the bytes land rather than after.
      this.reservation = await this.disk.reserve(upstream.size);
      if (this.reservation && opening) {
        const opened = opening;
        opening = undefined;
        writer = (await opened).streamThroughOnDiskError();
      } else {
        await dropUnused();
        writer = hashOnlyWriter(this.digest.algorithm, new Error('no room under storage.maxSize'));
        this.diskless = true;
        log.warn({ digest: this.digest.text, size: upstream.size }, 'store full with blobs in use, streaming through without keeping');
      }
      this.writeId = writer.id;
      this.size = upstream.size;
      this.state = 'streaming';
      // The note keeps its `temp` key, so replicas of the previous release still read it in a rolling update.
      // `leader` is this replica's advertised address (replicas.advertise): followers whose store cannot read
      // this write (S3) stream it from here instead (src/routes/internal-fills.ts).
      const id = writer.storeError === undefined ? writer.id : null;
      // The note is for other replicas only: this process's readers start at once, and the download does not
      // wait for the note to be stored (a Redis round trip, or a lock file rewritten and renamed) before it
      // reads on. Followers find the write whenever the note lands; the lease is let go only after it has.
      published = lease?.publish(JSON.stringify({ temp: id, size: upstream.size ?? null, ...(leader !== undefined && id !== null && { leader }) })).catch(() => undefined);
      this.markStarted();
      await this.receive(upstream.body, writer, log);
      if (this.size !== undefined && this.written !== this.size) {
        throw new Error(`upstream sent ${this.written} bytes, announced ${this.size}`);
      }
      await writer.verify(this.digest);
      this.size = this.written;
      this.verified = true;
      this.state = 'verified';
      this.emit('verified');
      await writer.persist(this.digest);
      this.reservation?.kept(this.written);
      this.state = 'committed';
      this.recent.clear();
      log.debug({ digest: this.digest.text, bytes: this.written }, 'blob kept');
      this.emit('committed');
    } catch (error) {
      // A body not read to its end (refused, no disk, a failed write) lets its connection go.
      upstream?.discard?.();
      await writer?.abort();
      await dropUnused();
      this.reservation?.release();
      // Verified content that only failed to be kept is still being streamed from memory to its readers.
      if (!this.verified) this.recent.clear();
      this.state = 'failed';
      this.error = error as Error;
      this.markStartFailed(this.error);
      log.warn({ digest: this.digest.text, err: error, bytes: this.received }, 'blob fill failed');
      this.emit('failed', this.error);
    } finally {
      // A note landing after the release would name a write nobody renews (a lock file rewritten by rename
      // would even hold the lease again until it went stale).
      await published;
      await lease?.release();
    }
  }

  /**
   * Takes the upstream body into memory (for readers) and onto disk. Chunks that arrive while a write is
   * under way go to disk together in the next one; the upstream is not read further while the disk lags
   * by more than the recent-chunks window, so every byte received is always in memory or on disk.
   */
  private async receive(body: AsyncIterable<Buffer | HeldBytes>, writer: BlobWriter, log: Logger): Promise<void> {
    let pending: HeldBytes[] = [];
    let writing: Promise<void> | undefined;
    const drain = async (): Promise<void> => {
      while (pending.length > 0) {
        const batch = pending;
        pending = [];
        if (this.size === undefined && writer.storeError === undefined && this.reservation) {
          // Unannounced size: room is asked for as the write grows, between writes.
          const total = writer.written + batch.reduce((sum, held) => sum + held.bytes.length, 0);
          if (!this.reservation.grow(total)) await writer.stopKeeping(new Error('no room under storage.maxSize'));
        }
        try {
          await writer.writeMany(batch.map((held) => held.bytes));
        } finally {
          // Written and hashed (the hash copies what it needs): the ring may read into these slots again.
          for (const held of batch) held.slot?.release();
        }
        if (writer.storeError !== undefined && !this.diskless) {
          // Disk full or unwritable: clients still get the content (from memory), it is just not kept.
          this.diskless = true;
          log.error({ digest: this.digest.text, err: writer.storeError }, 'storage write failed, streaming through without keeping');
        }
        this.written = writer.written;
        this.emit('progress');
      }
    };
    let writeError: unknown;
    const startDrain = (): Promise<void> => {
      if (!writing) {
        writing = drain().finally(() => {
          writing = undefined;
        });
        // Not every write is awaited where it starts; its failure is picked up by the loop below.
        writing.catch((error: unknown) => {
          writeError ??= error;
        });
      }
      return writing;
    };
    try {
      // Piece by piece as the upstream's socket delivered them (a ring body queues its reads as they came).
      for await (const piece of body) {
        let held: HeldBytes = Buffer.isBuffer(piece) ? { bytes: piece } : piece;
        const chunk = held.bytes;
        // Cut the moment the body runs past what it announced (or past maxBlobSize with no announcement):
        // leaving the loop stops reading the upstream, and no reader ever sees those bytes.
        if (writeError !== undefined || this.received + chunk.length > (this.size ?? this.maxBlobSize)) {
          held.slot?.release();
          if (writeError !== undefined) throw writeError;
          throw this.size !== undefined
            ? new Error(`upstream sent more than the ${this.size} bytes it announced`)
            : new Error(`upstream sent more than limits.maxBlobSize (${this.maxBlobSize} bytes) without announcing a size`);
        }
        // Streaming through without a disk copy, the window is all a reader has: its bytes must outlast the
        // ring's reuse of their slot (a rare mode, worth a copy).
        if (this.diskless && held.slot) {
          held.slot.release();
          held = { bytes: Buffer.from(chunk) };
        }
        this.recent.add(this.received, held);
        this.received += chunk.length;
        pending.push(held);
        const draining = startDrain();
        this.emit('progress');
        if (this.received - this.written > RECENT_BYTES / 2) await draining;
      }
    } finally {
      // Whatever happened upstream, let the write under way settle before the store's write is judged.
      await writing?.catch(() => undefined);
      if (writeError !== undefined || pending.length > 0) {
        // Left unwritten by a failure: their slots are let go all the same.
        for (const held of pending.splice(0)) held.slot?.release();
      }
    }
    if (writeError !== undefined) throw writeError;
    await startDrain();
  }
}

/** DENIED for a blob larger than limits.maxBlobSize: a policy of this mirror, not a missing blob (issue 9). */
export function blobTooLarge(size: number, maxBlobSize: number): RegistryError {
  return new RegistryError('DENIED', 'blob larger than this mirror keeps (limits.maxBlobSize)', { detail: { announced: size, maxBlobSize } });
}

/** The in-flight fills of this process, by digest. */
export class BlobFills {
  private readonly fills = new Map<string, BlobFill>();
  private readonly store: Pick<BlobStore, 'create'>;
  private readonly log: Logger;
  private readonly options: FillOptions;

  constructor(store: Pick<BlobStore, 'create'>, log: Logger, options: FillOptions = {}) {
    this.store = store;
    this.log = log;
    this.options = options;
  }

  /** This replica's address for the others (replicas.advertise), written into each fill's lease note. */
  advertise: string | undefined;

  get(digest: Digest): BlobFill | undefined {
    return this.fills.get(digest.text);
  }

  get inFlight(): number {
    return this.fills.size;
  }

  /**
   * Joins the running fill for this digest or starts one, holding `lease` for the other replicas and
   * `slot` (fill-slots.ts) until it ends; joining lets go of both at once.
   */
  join(digest: Digest, fetchUpstream: () => Promise<UpstreamBlob>, lease?: Lease, slot?: FillSlot, upstream?: string): BlobFill {
    const running = this.fills.get(digest.text);
    if (running) {
      void lease?.release();
      slot?.release();
      return running;
    }
    const fill = new BlobFill(digest, this.store, this.options);
    fill.upstream = upstream;
    this.fills.set(digest.text, fill);
    void fill.run(fetchUpstream, this.log, lease, this.advertise).finally(() => {
      this.fills.delete(digest.text);
      slot?.release();
    });
    return fill;
  }

  /** Resolves when every running fill has ended, for graceful shutdown. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.fills.values()].map((fill) => fill.finished));
  }
}
