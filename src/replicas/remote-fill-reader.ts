// Following a fill that another replica is running: its temp file sits on the shared volume and grows as
// the upstream sends. This reader serves what is on disk, polls for more, and finishes once the blob is
// kept under its digest (which the leader only does after verifying it) — every reader's final byte waits
// for that, as with local fills, so a corrupt download never completes anywhere. If the leader dies, the
// reader asks its replica to take over and carries on from the new fill at the same offset: content
// addressed by digest is the same bytes whoever fetches it.

import { type FileHandle, open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Digest } from '../reference.ts';
import type { BlobStore } from '../storage/blob-store.ts';

export interface RemoteFillInfo {
  /** Temp file name in the shared store's tmp/. */
  temp: string;
  size: number;
}

export interface RemoteFillSource {
  /** The lease holder's current note, re-read when the file stops growing. */
  current(): Promise<{ held: boolean; info: RemoteFillInfo | undefined }>;
  /**
   * Becomes the filling replica (or joins a local fill); a stream of the blob from `position`. `deadTemp`
   * is the temp file the vanished leader left behind, for the new leader to remove.
   */
  takeOver(position: number, end: number, deadTemp: string): Promise<Readable | undefined>;
}

const POLL_MS = 15;
const READ_CHUNK = 256 * 1024;
/** No growth for this long makes the reader check whether the leader is still alive. */
const STALL_CHECK_MS = 1000;

export function parseRemoteFillInfo(text: string | undefined): RemoteFillInfo | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as { temp?: unknown; size?: unknown };
    if (typeof value.temp !== 'string' || typeof value.size !== 'number' || !Number.isSafeInteger(value.size)) return undefined;
    return { temp: value.temp, size: value.size };
  } catch {
    return undefined;
  }
}

export function readRemoteFill(
  store: BlobStore,
  digest: Digest,
  info: RemoteFillInfo,
  range: { start: number; end: number },
  source: RemoteFillSource,
): Readable {
  let handle: FileHandle | undefined;
  let temp = info.temp;
  let position = range.start;
  let lastGrowth = Date.now();
  let delegate: AsyncIterator<Buffer> | undefined;
  const finalPath = store.pathFor(digest);

  const isKept = async (): Promise<boolean> => (await stat(finalPath).catch(() => undefined)) !== undefined;
  const openCurrent = async (): Promise<FileHandle | undefined> => {
    const tempPath = store.tempPathFor(temp);
    if (tempPath) {
      const opened = await open(tempPath, 'r').catch(() => undefined);
      if (opened) return opened;
    }
    // Renamed into place already: the kept blob is the same inode.
    return open(finalPath, 'r').catch(() => undefined);
  };

  return new Readable({
    highWaterMark: READ_CHUNK,
    async read() {
      try {
        for (;;) {
          if (delegate) {
            const next = await delegate.next();
            this.push(next.done ? null : next.value);
            return;
          }
          if (position > range.end) {
            this.push(null);
            return;
          }
          handle ??= await openCurrent();
          if (handle) {
            const onDisk = (await handle.stat()).size;
            const kept = onDisk >= range.end + 1 && (await isKept());
            // Hold back this reader's final byte until the leader has verified and kept the blob.
            const available = kept ? range.end + 1 : Math.min(onDisk, range.end);
            if (position < available) {
              const length = Math.min(READ_CHUNK, available - position);
              const buffer = Buffer.allocUnsafe(length);
              const { bytesRead } = await handle.read(buffer, 0, length, position);
              if (bytesRead > 0) {
                position += bytesRead;
                lastGrowth = Date.now();
                this.push(bytesRead === length ? buffer : buffer.subarray(0, bytesRead));
                return;
              }
            }
          }
          if (Date.now() - lastGrowth > STALL_CHECK_MS) {
            lastGrowth = Date.now();
            if (await isKept()) {
              await handle?.close();
              handle = await open(finalPath, 'r');
              continue;
            }
            const current = await source.current();
            if (current.held && current.info && current.info.temp !== temp) {
              // Another replica took over with a new temp file: same bytes, follow that one.
              await handle?.close();
              handle = undefined;
              temp = current.info.temp;
              continue;
            }
            if (!current.held) {
              const taken = await source.takeOver(position, range.end, temp);
              if (!taken) throw new Error('the replica filling this blob is gone');
              await handle?.close();
              handle = undefined;
              delegate = taken[Symbol.asyncIterator]();
              continue;
            }
          }
          await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        }
      } catch (error) {
        this.destroy(error as Error);
      }
    },
    destroy(error, callback) {
      const closing = handle?.close();
      handle = undefined;
      void delegate?.return?.();
      void Promise.resolve(closing).catch(() => undefined).finally(() => callback(error));
    },
  });
}
