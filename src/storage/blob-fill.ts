// One upstream download per digest. The fill writes to a temp file while hashing; every client asking
// for that digest — the first one included — reads the temp file as it grows, so followers stream the
// in-flight bytes as they arrive instead of fetching again. The fill does not belong to any client: a
// client that disconnects leaves it running to completion.
//
// The last byte is held back from readers until the digest has been checked, so no client ever receives
// a complete body with the wrong content: on a mismatch the readers fail and the connection is cut.

import { EventEmitter } from 'node:events';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Logger } from '../logger.ts';
import type { Digest } from '../reference.ts';
import type { BlobStore, BlobWriter } from './blob-store.ts';

export interface UpstreamBlob {
  /** Content-Length the upstream announced, if it did. */
  size: number | undefined;
  body: Readable;
}

type FillState = 'starting' | 'streaming' | 'committed' | 'failed';

export class BlobFill extends EventEmitter {
  readonly digest: Digest;
  size: number | undefined;
  written = 0;
  state: FillState = 'starting';
  error: Error | undefined;
  tempPath: string | undefined;
  /** Settles once the upstream answered: resolves when bytes start flowing, rejects if it refused. */
  readonly started: Promise<void>;
  /** Settles when the blob is kept (resolves) or the fill failed (rejects). */
  readonly finished: Promise<void>;
  private readonly store: BlobStore;

  constructor(digest: Digest, store: BlobStore) {
    super();
    this.setMaxListeners(0);
    this.digest = digest;
    this.store = store;
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
    // Callers that only look at `started` must not see an unhandled rejection from `finished`.
    this.finished.catch(() => undefined);
    this.started.catch(() => undefined);
    this.markStarted = markStarted;
    this.markStartFailed = markStartFailed;
  }

  private readonly markStarted: () => void;
  private readonly markStartFailed: (error: Error) => void;

  /** Runs the download. Never throws: the outcome is in `state`, `started` and `finished`. */
  async run(fetchUpstream: () => Promise<UpstreamBlob>, log: Logger): Promise<void> {
    let writer: BlobWriter | undefined;
    try {
      const upstream = await fetchUpstream();
      writer = await this.store.create(this.digest.algorithm);
      this.tempPath = writer.tempPath;
      this.size = upstream.size;
      this.state = 'streaming';
      this.markStarted();
      for await (const chunk of upstream.body) {
        await writer.write(chunk as Buffer);
        this.written = writer.written;
        this.emit('progress');
      }
      if (this.size !== undefined && this.written !== this.size) {
        throw new Error(`upstream sent ${this.written} bytes, announced ${this.size}`);
      }
      await writer.commit(this.digest);
      this.size = this.written;
      this.state = 'committed';
      log.debug({ digest: this.digest.text, bytes: this.written }, 'blob kept');
      this.emit('committed');
    } catch (error) {
      await writer?.abort();
      this.state = 'failed';
      this.error = error as Error;
      this.markStartFailed(this.error);
      log.warn({ digest: this.digest.text, err: error, bytes: this.written }, 'blob fill failed');
      this.emit('failed', this.error);
    }
  }

  /** Bytes a reader may have now: all once verified, all but the last one before that. */
  get readable(): number {
    return this.state === 'committed' ? this.written : Math.max(0, this.written - 1);
  }
}

/** The in-flight fills of this process, by digest. */
export class BlobFills {
  private readonly fills = new Map<string, BlobFill>();
  private readonly store: BlobStore;
  private readonly log: Logger;

  constructor(store: BlobStore, log: Logger) {
    this.store = store;
    this.log = log;
  }

  get(digest: Digest): BlobFill | undefined {
    return this.fills.get(digest.text);
  }

  get inFlight(): number {
    return this.fills.size;
  }

  /** Joins the running fill for this digest or starts one. */
  join(digest: Digest, fetchUpstream: () => Promise<UpstreamBlob>): BlobFill {
    const running = this.fills.get(digest.text);
    if (running) return running;
    const fill = new BlobFill(digest, this.store);
    this.fills.set(digest.text, fill);
    void fill.run(fetchUpstream, this.log).finally(() => this.fills.delete(digest.text));
    return fill;
  }

  /** Resolves when every running fill has ended, for graceful shutdown. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.fills.values()].map((fill) => fill.finished));
  }
}

const READ_CHUNK = 256 * 1024;

/**
 * A stream of [start, end] (inclusive) of a blob being filled, following the temp file as it grows.
 * Fails if the fill fails, so the client's response is cut rather than completed.
 */
export function readFill(fill: BlobFill, store: BlobStore, start: number, end: number | undefined): Readable {
  let handle: FileHandle | undefined;
  let position = start;
  let waiting: (() => void) | undefined;
  const wake = (): void => {
    const resume = waiting;
    waiting = undefined;
    resume?.();
  };
  fill.on('progress', wake);
  fill.on('committed', wake);
  fill.on('failed', wake);
  const detach = (): void => {
    fill.off('progress', wake);
    fill.off('committed', wake);
    fill.off('failed', wake);
  };

  const openHandle = async (): Promise<FileHandle> => {
    if (fill.tempPath !== undefined && fill.state !== 'committed') {
      try {
        return await open(fill.tempPath, 'r');
      } catch (error) {
        // Renamed into place between the check and the open: read the kept blob instead.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    return open(store.pathFor(fill.digest), 'r');
  };

  return new Readable({
    highWaterMark: READ_CHUNK,
    async read() {
      try {
        for (;;) {
          const last = end ?? (fill.state === 'committed' ? fill.written - 1 : Infinity);
          if (position > last) {
            this.push(null);
            return;
          }
          if (fill.state === 'failed') throw fill.error ?? new Error('blob fill failed');
          const available = Math.min(fill.readable, last + 1);
          if (position < available) {
            handle ??= await openHandle();
            const length = Math.min(READ_CHUNK, available - position);
            const buffer = Buffer.allocUnsafe(length);
            const { bytesRead } = await handle.read(buffer, 0, length, position);
            if (bytesRead === 0) throw new Error('blob fill file ended early');
            position += bytesRead;
            this.push(bytesRead === length ? buffer : buffer.subarray(0, bytesRead));
            return;
          }
          await new Promise<void>((resolve) => {
            waiting = resolve;
          });
        }
      } catch (error) {
        this.destroy(error as Error);
      }
    },
    destroy(error, callback) {
      detach();
      wake();
      const closing = handle?.close();
      handle = undefined;
      void Promise.resolve(closing).catch(() => undefined).finally(() => callback(error));
    },
  });
}
