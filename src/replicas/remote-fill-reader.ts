// Following a fill that another replica is running: its write in flight grows in the shared store as the
// upstream sends, and the leader's lease note names it (an opaque BlobWriter id: on the filesystem store,
// a temp file on the shared volume). This reader serves what is written (BlobStore.openInFlight), polls
// for more, and finishes once the blob is kept under its digest (which the leader only does after
// verifying it) — every reader's final byte waits for that, as with local fills, so a corrupt download
// never completes anywhere. If the leader dies, the
// reader asks its replica to take over and carries on from the new fill at the same offset: content
// addressed by digest is the same bytes whoever fetches it.
//
// A store that cannot read another process's write (S3: a multipart upload in progress cannot be read)
// gives nothing until the blob is kept. Then, when the note names the leader's address and this replica
// has the shared secret, the reader streams the write from the leader's internal endpoint
// (src/routes/internal-fills.ts) — all but its final byte, which it reads from the kept blob, so the
// guarantee above does not rest on the leader's word. A cut stream falls back to the same lease logic.

import { Readable } from 'node:stream';
import type { Digest } from '../reference.ts';
import type { BlobStore, InFlightReader } from '../storage/blob-store.ts';

export interface RemoteFillInfo {
  /** The leader's write in flight (its BlobWriter id; the note's key is `temp` for older replicas). */
  temp: string;
  size: number;
  /** The leader replica's advertised address (replicas.advertise), when it serves its fills to the others. */
  leader?: string;
}

export interface RemoteFillSource {
  /** The lease holder's current note, re-read when the file stops growing. */
  current(): Promise<{ held: boolean; info: RemoteFillInfo | undefined }>;
  /**
   * Becomes the filling replica (or joins a local fill); a stream of the blob from `position`. `deadTemp`
   * is the write the vanished leader left behind, for the new leader to discard.
   */
  takeOver(position: number, end: number, deadTemp: string): Promise<Readable | undefined>;
  /**
   * Bytes `start`..`end` (inclusive) of write `temp` as the replica at `leader` receives them; undefined
   * when it does not serve that write (finished, gone, or another replica's). Absent without a secret.
   */
  stream?(leader: string, temp: string, start: number, end: number): Promise<AsyncIterator<Buffer> | undefined>;
}

const POLL_MS = 15;
const READ_CHUNK = 256 * 1024;
/** No growth for this long makes the reader check whether the leader is still alive. */
const STALL_CHECK_MS = 1000;

export function parseRemoteFillInfo(text: string | undefined): RemoteFillInfo | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as { temp?: unknown; size?: unknown; leader?: unknown };
    if (typeof value.temp !== 'string' || typeof value.size !== 'number' || !Number.isSafeInteger(value.size)) return undefined;
    return { temp: value.temp, size: value.size, ...(typeof value.leader === 'string' && /^https?:\/\//.test(value.leader) && { leader: value.leader }) };
  } catch {
    return undefined;
  }
}

export function readRemoteFill(
  store: Pick<BlobStore, 'stat' | 'openInFlight'>,
  digest: Digest,
  info: RemoteFillInfo,
  range: { start: number; end: number },
  source: RemoteFillSource,
): Readable {
  let reader: InFlightReader | undefined;
  let temp = info.temp;
  let position = range.start;
  let lastGrowth = Date.now();
  let delegate: AsyncIterator<Buffer> | undefined;
  let leader = info.leader;
  let remote: AsyncIterator<Buffer> | undefined;
  let remoteRetryAt = 0;
  const dropRemote = (): void => {
    void remote?.return?.().catch(() => undefined);
    remote = undefined;
    remoteRetryAt = Date.now() + STALL_CHECK_MS;
  };

  const isKept = async (): Promise<boolean> => (await store.stat(digest).catch(() => undefined)) !== undefined;
  // The write while in flight; once committed, the kept blob (the store falls back to it).
  const openCurrent = (): Promise<InFlightReader | undefined> => store.openInFlight(digest, temp).catch(() => undefined);

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
          if (!remote) reader ??= await openCurrent();
          // The store cannot read the leader's write: stream it from the leader, up to the final byte.
          if (!reader && source.stream && leader !== undefined && position < range.end && (remote || Date.now() >= remoteRetryAt)) {
            try {
              remote ??= await source.stream(leader, temp, position, range.end - 1);
              const next = await remote?.next();
              if (next && !next.done && next.value.length > 0) {
                const bytes = next.value.subarray(0, range.end - position);
                position += bytes.length;
                lastGrowth = Date.now();
                this.push(bytes);
                return;
              }
              dropRemote();
            } catch {
              // The leader is gone or cut the stream (its fill failed): the lease logic below decides.
              dropRemote();
            }
          }
          if (reader) {
            const onDisk = await reader.size();
            const kept = onDisk >= range.end + 1 && (await isKept());
            // Hold back this reader's final byte until the leader has verified and kept the blob.
            const available = kept ? range.end + 1 : Math.min(onDisk, range.end);
            if (position < available) {
              const bytes = await reader.read(position, Math.min(READ_CHUNK, available - position));
              if (bytes.length > 0) {
                position += bytes.length;
                lastGrowth = Date.now();
                this.push(bytes);
                return;
              }
            }
          }
          if (Date.now() - lastGrowth > STALL_CHECK_MS) {
            lastGrowth = Date.now();
            if (await isKept()) {
              await reader?.close();
              reader = await store.openInFlight(digest);
              continue;
            }
            const current = await source.current();
            if (current.held && current.info && current.info.temp !== temp) {
              // Another replica took over with a new write: same bytes, follow that one.
              await reader?.close();
              reader = undefined;
              temp = current.info.temp;
              leader = current.info.leader;
              dropRemote();
              remoteRetryAt = 0;
              continue;
            }
            if (!current.held) {
              const taken = await source.takeOver(position, range.end, temp);
              if (!taken) throw new Error('the replica filling this blob is gone');
              await reader?.close();
              reader = undefined;
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
      const closing = reader?.close();
      reader = undefined;
      void remote?.return?.().catch(() => undefined);
      remote = undefined;
      void delegate?.return?.();
      void Promise.resolve(closing).catch(() => undefined).finally(() => callback(error));
    },
  });
}
