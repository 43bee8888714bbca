// Waits for the pinned warm set (config prefetch:) of a test mirror to reach a state, polling its status.

import type { FastifyInstance } from 'fastify';
import type { PinnedImageStatus } from '../../src/prefetch/warm-set.ts';

export async function waitForWarmSet(app: FastifyInstance, done: (entries: PinnedImageStatus[]) => boolean, timeoutMs = 20_000): Promise<PinnedImageStatus[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const entries = app.warmSet.status();
    if (done(entries)) return entries;
    if (Date.now() > deadline) throw new Error(`warm set did not settle: ${JSON.stringify(entries)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
