import { createServer } from 'node:net';

/**
 * A port that was free a moment ago, for programs that cannot listen on port 0 and report back
 * (docker-registry). Callers retry on the rare race where someone else takes it first.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('no port'));
        return;
      }
      srv.close(() => resolve(addr.port));
    });
  });
}
