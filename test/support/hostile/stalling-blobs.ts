// Attack (issue 9): many cold blobs whose upstream sends most of each body, then stalls. Every fill the
// mirror starts holds its received bytes in memory (the recent-chunks window) and a temp file on disk
// until the body ends, so a client asking for many cold digests at once makes the mirror hold all of
// them. Blobs are made here, cheaply (an 8-byte index before a shared filler), so a test can have
// hundreds without holding them all in memory.

import { createHash } from 'node:crypto';
import type { Scenario } from '../hostile-registry.ts';

const BLOB_PATH = /\/blobs\/(sha256:[0-9a-f]{64})$/;

export interface StallingBlobs {
  scenario: Scenario;
  /** Digest of blob `index` (size `size`). */
  digestOf(index: number): string;
  /** The full content of blob `index`, for checking what a client received. */
  bytesOf(index: number): Buffer;
  /** Lets every stalled body (and every later one) finish. */
  release(): void;
  /** Blob GETs received, by digest. */
  gets: Map<string, number>;
}

export function stallingBlobs(count: number, size: number, options: { stallAfter: number }): StallingBlobs {
  const filler = Buffer.alloc(size - 8, 0x63);
  const prefix = (index: number): Buffer => {
    const bytes = Buffer.alloc(8);
    bytes.writeBigUInt64BE(BigInt(index));
    return bytes;
  };
  const byDigest = new Map<string, number>();
  const digests: string[] = [];
  for (let i = 0; i < count; i++) {
    const digest = `sha256:${createHash('sha256').update(prefix(i)).update(filler).digest('hex')}`;
    digests.push(digest);
    byDigest.set(digest, i);
  }
  let released = false;
  const waiting: Array<() => void> = [];
  const gets = new Map<string, number>();
  const scenario: Scenario = async (req, res) => {
    const digest = BLOB_PATH.exec(req.url ?? '')?.[1];
    const index = digest === undefined ? undefined : byDigest.get(digest);
    if (digest === undefined || index === undefined) return false;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    gets.set(digest, (gets.get(digest) ?? 0) + 1);
    const whole = Buffer.concat([prefix(index), filler]);
    res.write(whole.subarray(0, options.stallAfter));
    if (!released) await new Promise<void>((resolve) => waiting.push(resolve));
    res.end(whole.subarray(options.stallAfter));
    return true;
  };
  return {
    scenario,
    digestOf: (index) => digests[index] as string,
    bytesOf: (index) => Buffer.concat([prefix(index), filler]),
    release() {
      released = true;
      for (const resume of waiting.splice(0)) resume();
    },
    gets,
  };
}
