// Attack (issue 9): the upstream's own token service answers with an endless JSON body (300 MB here),
// hoping the mirror reads it whole into memory. The body is generated as it is sent, never allocated.

import type { Scenario } from '../hostile-registry.ts';

export interface TokenBomb {
  scenario: Scenario;
  /** Bytes of the token body written so far (a mirror that stops reading stops this early). */
  readonly bytesSent: number;
}

export function tokenBomb(totalBytes: number): TokenBomb {
  let bytesSent = 0;
  const chunk = Buffer.alloc(64 * 1024, 'a');
  const scenario: Scenario = (req, res, { url }) => {
    const path = req.url ?? '';
    if (path.startsWith('/token')) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': totalBytes });
      res.write('{"token":"');
      const pump = (): void => {
        while (bytesSent < totalBytes - 20 && !res.destroyed) {
          bytesSent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        if (!res.destroyed) res.end();
      };
      pump();
      res.on('close', () => res.removeAllListeners('drain'));
      return true;
    }
    if (!path.startsWith('/v2/') || (req.headers.authorization ?? '').startsWith('Bearer ')) return false;
    res.writeHead(401, { 'www-authenticate': `Bearer realm="${url}/token",service="hostile"`, 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
    return true;
  };
  return {
    scenario,
    get bytesSent() {
      return bytesSent;
    },
  };
}
