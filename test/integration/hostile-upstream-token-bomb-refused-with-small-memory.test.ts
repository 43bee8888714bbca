import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BaitServer } from '../support/bait-server.ts';
import { HostileRegistry } from '../support/hostile-registry.ts';
import { tokenBomb } from '../support/hostile/token-bomb.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9: a token response is read up to 64 KiB; a 300 MB one fails the request cleanly instead of
// being read into memory (it took 900 MiB before).

const BOMB_BYTES = 300 * 1024 * 1024;

let bait: BaitServer;
let bomb: ReturnType<typeof tokenBomb>;
let upstream: HostileRegistry;
let mirror: TestMirror;

before(async () => {
  bait = await new BaitServer().start();
  bomb = tokenBomb(BOMB_BYTES);
  upstream = await new HostileRegistry(bomb.scenario, bait).start();
  mirror = await startMirror({ hostile: { url: upstream.url } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
  await bait.stop();
});

test('a 300 MB token body is cut at the limit: the request fails cleanly and memory stays small', async (t) => {
  upstream.honest.addImage('team/app', 'v1');
  global.gc?.();
  const start = process.memoryUsage();
  let peakRss = start.rss;
  let peakHeap = start.heapUsed;
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    peakRss = Math.max(peakRss, now.rss);
    peakHeap = Math.max(peakHeap, now.heapUsed);
  }, 10);
  let response: Response;
  let body: { errors?: Array<{ code: string }> };
  try {
    response = await fetch(`${mirror.url}/v2/team/app/manifests/v1`);
    body = (await response.json()) as { errors?: Array<{ code: string }> };
  } finally {
    clearInterval(sampler);
  }
  const grewMiB = (peakRss - start.rss) / 2 ** 20;
  const heapMiB = (peakHeap - start.heapUsed) / 2 ** 20;
  t.diagnostic(`status ${response.status}, bomb sent ${(bomb.bytesSent / 2 ** 20).toFixed(1)} MiB, RSS +${grewMiB.toFixed(1)} MiB, heap +${heapMiB.toFixed(1)} MiB`);
  assert.equal(response.status, 503);
  assert.equal(body.errors?.[0]?.code, 'UNAVAILABLE');
  assert.ok(bomb.bytesSent < 16 * 2 ** 20, `the mirror stopped reading early (${(bomb.bytesSent / 2 ** 20).toFixed(1)} MiB sent)`);
  assert.ok(grewMiB < 64, `RSS grew by ${grewMiB.toFixed(1)} MiB`);
  assert.ok(heapMiB < 32, `heap grew by ${heapMiB.toFixed(1)} MiB`);
});
