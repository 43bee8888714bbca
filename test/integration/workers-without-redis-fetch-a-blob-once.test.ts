import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Keyv from 'keyv';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { waitFor } from '../e2e/support/wait-for.ts';

// `workers: 2` without Redis (issue 11): two mirrors sharing one store directory, as two workers on one
// host do, meet at the store's lock files (src/replicas/store-locks.ts). Cold clients of one blob spread
// over both cost one upstream GET: one worker downloads, the other follows its temp file. Without the
// lock files each would download it.

let upstream: MemoryRegistry;
let storage: string;
let workers: TestMirror[] = [];

before(async () => {
  upstream = await new MemoryRegistry().start();
  storage = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-workers-'));
  // The shared embedded metadata store, as workers would have it.
  const keyv = new Keyv();
  const upstreams = { hub: { url: upstream.url } };
  workers = [
    await startMirror(upstreams, { storage, keyv, extra: { workers: 2 } }),
    await startMirror(upstreams, { storage, keyv, extra: { workers: 2 } }),
  ];
});
after(async () => {
  await Promise.all(workers.map((worker) => worker.close({ keepStorage: true })));
  await rm(storage, { recursive: true, force: true });
  await upstream.stop();
});

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

test('16 cold clients of one blob over two workers without Redis: 1 upstream GET, every body whole', async () => {
  upstream.addImage('team/app', 'v1');
  const { digest, bytes } = upstream.addRandomBlob(4 * 1024 * 1024);
  // Slow enough that every client asks while the download runs.
  upstream.trickle = { chunk: 256 * 1024, delayMs: 30 };
  upstream.resetCounts();
  try {
    const bodies = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const response = await fetch(`${(workers[i % 2] as TestMirror).url}/v2/team/app/blobs/${digest}`);
        assert.equal(response.status, 200);
        return Buffer.from(await response.arrayBuffer());
      }),
    );
    for (const body of bodies) {
      assert.equal(body.length, bytes.length);
      assert.equal(sha256(body), digest);
    }
  } finally {
    upstream.trickle = undefined;
  }
  assert.equal(upstream.count({ method: 'GET', kind: 'blob' }), 1, 'one download between the two workers');
  // The leader lets go right after the commit that let the clients' last bytes out: give it that moment.
  const leases = (): Promise<string[]> => readdir(path.join(storage, 'leases'));
  await waitFor('the fill lease to be let go', async () => ((await leases()).length === 0 ? true : undefined), { timeoutMs: 5_000, intervalMs: 20 }).catch(() => undefined);
  assert.deepEqual(await leases(), [], 'the fill lease is let go once the blob is kept');
});
