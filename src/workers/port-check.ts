// Whether the configured address can be listened on, asked once by the primary before it forks workers
// (issue 11): otherwise each worker would fail on its own and say so N times.

import { createServer } from 'node:net';
import type { Config } from '../config.ts';

/** Rejects with the listen error (EADDRINUSE, EACCES...), which the CLI turns into one line and status 2. */
export function ensurePortFree(listen: Config['listen']): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ host: listen.host, port: listen.port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
