import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { BaitServer } from '../support/bait-server.ts';
import { HostileRegistry } from '../support/hostile-registry.ts';
import { stallingBlobs } from '../support/hostile/stalling-blobs.ts';
import { startMirror } from '../support/mirror.ts';

// `workers: 2` (issue 11): each worker keeps its share of limits.maxConcurrentFillsPerClient, since the
// primary deals one address's connections to every worker. With a limit of 2, one worker runs one cold
// fill for an address and makes the next wait and get 429 — as one process with a limit of 1 does.

const SIZE = 128 * 1024;
const blobs = stallingBlobs(2, SIZE, { stallAfter: SIZE / 2 });
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  blobs.release();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('a worker of two runs half the per-client cold fills: the second from one address gets 429', async () => {
  const bait = await new BaitServer().start();
  cleanups.push(() => bait.stop());
  const upstream = await new HostileRegistry(blobs.scenario, bait).start();
  cleanups.push(() => upstream.stop());
  const worker = await startMirror(
    { hub: { url: upstream.url } },
    { extra: { workers: 2, limits: { maxConcurrentFillsPerClient: 2, maxConcurrentFills: 8, fillQueueTimeout: '200ms' } } },
  );
  cleanups.push(() => worker.close());
  const controller = new AbortController();
  cleanups.push(async () => controller.abort());
  const running = await fetch(`${worker.url}/v2/limits/app/blobs/${blobs.digestOf(0)}`, { signal: controller.signal });
  assert.equal(running.status, 200);
  const refused = await fetch(`${worker.url}/v2/limits/app/blobs/${blobs.digestOf(1)}`);
  assert.equal(refused.status, 429, 'a second cold fill from the address was let through');
  assert.equal(blobs.gets.get(blobs.digestOf(1)), undefined, 'the refused blob was not fetched upstream');
});
