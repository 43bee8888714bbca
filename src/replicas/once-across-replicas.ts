// One replica does a piece of upstream work (revalidate a tag, fetch a manifest) while the others wait for
// its result to show up in the shared metadata or store, instead of asking upstream themselves.

import type { ReplicaLocks } from './replica-locks.ts';

/**
 * How long a replica waits for another's result before doing the work itself. It stops waiting sooner
 * when the holder lets go or dies (its lease lapses), so this only bounds a holder that is alive and
 * renewing but slow — an upstream answering slowly, or a machine under load. A shorter bound (5 s) made
 * a loaded fleet fetch the same manifest twice.
 */
const WAIT_MS = 30_000;
const POLL_MS = 25;

export async function onceAcrossReplicas<T>(
  locks: ReplicaLocks,
  name: string,
  work: () => Promise<T>,
  settled: () => Promise<T | undefined>,
): Promise<T> {
  const lease = await locks.tryAcquire(name);
  if (lease) {
    try {
      // A previous holder may have finished and let go between our first look and the lease.
      return (await settled()) ?? (await work());
    } finally {
      await lease.release();
    }
  }
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const result = await settled();
    if (result !== undefined) return result;
    // The holder let go: it either left its result (written just before it let go, so look once more)
    // or failed or died, and then there is no point waiting longer.
    if (!(await locks.peek(name)).held) return (await settled()) ?? work();
  }
  return work();
}
