// Attack (issue 9): a blob answer with no Content-Length whose body never ends. A mirror with no
// maximum blob size streams it to disk and to its client for ever. The scenario writes as fast as the
// mirror reads (respecting back-pressure) until the mirror hangs up, and counts what it sent.

import type { Scenario } from '../hostile-registry.ts';

const BLOB_PATH = /\/blobs\/sha256:[0-9a-f]{64}$/;
const CHUNK = Buffer.alloc(64 * 1024, 0x62);

export interface EndlessBlob {
  scenario: Scenario;
  stats: { bytesSent: number; closedByMirror: number };
}

export function endlessBlob(): EndlessBlob {
  const stats = { bytesSent: 0, closedByMirror: 0 };
  const scenario: Scenario = (req, res) => {
    if (!BLOB_PATH.test(req.url ?? '')) return false;
    // No Content-Length: Node answers with Transfer-Encoding: chunked.
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    let open = true;
    res.once('close', () => {
      open = false;
      stats.closedByMirror += 1;
    });
    const pump = (): void => {
      while (open) {
        stats.bytesSent += CHUNK.length;
        if (!res.write(CHUNK)) {
          res.once('drain', pump);
          return;
        }
      }
    };
    pump();
    return true;
  };
  return { scenario, stats };
}
