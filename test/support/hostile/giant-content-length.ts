// Attack (issue 9): a blob answer announcing a Content-Length of a petabyte. A mirror that believes it
// passes the number to its clients, its metrics and its eviction, and may size buffers by it. The
// scenario sends the header and one small chunk, then holds the connection open, and records whether
// the mirror hung up on it.

import type { Scenario } from '../hostile-registry.ts';

export const GIANT_LENGTH = 1_000_000_000_000_000;
const BLOB_PATH = /\/blobs\/sha256:[0-9a-f]{64}$/;

export interface GiantContentLength {
  scenario: Scenario;
  /** Blob answers sent, and how many of their connections the mirror closed. */
  stats: { answered: number; closedByMirror: number };
}

export function giantContentLength(): GiantContentLength {
  const stats = { answered: 0, closedByMirror: 0 };
  const scenario: Scenario = (req, res) => {
    if (!BLOB_PATH.test(req.url ?? '')) return false;
    stats.answered += 1;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(GIANT_LENGTH) });
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    res.write(Buffer.alloc(64 * 1024, 0x61));
    res.once('close', () => {
      stats.closedByMirror += 1;
    });
    return true;
  };
  return { scenario, stats };
}
