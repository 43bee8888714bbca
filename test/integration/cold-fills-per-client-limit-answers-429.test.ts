import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { BaitServer } from '../support/bait-server.ts';
import { HostileRegistry } from '../support/hostile-registry.ts';
import { stallingBlobs } from '../support/hostile/stalling-blobs.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9: one client address may have limits.maxConcurrentFillsPerClient upstream downloads running.
// Another cold digest waits up to limits.fillQueueTimeout for a slot, then gets 429 TOOMANYREQUESTS with
// Retry-After, and the upstream never sees it. Joining a download already running costs no slot, and
// another address is not held up by the first one's downloads.

const SIZE = 256 * 1024;
const QUEUE_TIMEOUT_MS = 300;
const blobs = stallingBlobs(3, SIZE, { stallAfter: SIZE / 2 });
let bait: BaitServer;
let upstream: HostileRegistry;
let mirror: TestMirror;
const first = new Agent({ localAddress: '127.0.0.1' });
const second = new Agent({ localAddress: '127.0.0.2' });

before(async () => {
  bait = await new BaitServer().start();
  upstream = await new HostileRegistry(blobs.scenario, bait).start();
  mirror = await startMirror(
    { hub: { url: upstream.url } },
    { extra: { limits: { maxConcurrentFillsPerClient: 1, maxConcurrentFills: 8, fillQueueTimeout: `${QUEUE_TIMEOUT_MS}ms` } } },
  );
});
after(async () => {
  blobs.release();
  await mirror.close();
  await upstream.stop();
  await bait.stop();
  await Promise.all([first.close(), second.close()]);
});

function get(agent: Agent, index: number): ReturnType<typeof request> {
  return request(`${mirror.url}/v2/limits/app/blobs/${blobs.digestOf(index)}`, { dispatcher: agent });
}

test('a second cold fill from one address waits, then gets 429 with Retry-After; joining and other addresses are not limited', async () => {
  const a = await get(first, 0);
  assert.equal(a.statusCode, 200);

  const startedAt = Date.now();
  const b = await get(first, 1);
  const waited = Date.now() - startedAt;
  assert.equal(b.statusCode, 429, 'second cold blob from the same address was not limited');
  const text = await b.body.text();
  assert.equal(JSON.parse(text).errors[0].code, 'TOOMANYREQUESTS');
  assert.ok(Number(b.headers['retry-after']) >= 1, `Retry-After: ${String(b.headers['retry-after'])}`);
  assert.ok(waited >= QUEUE_TIMEOUT_MS - 20, `answered after ${waited} ms, before the queue time-out`);
  assert.equal(blobs.gets.get(blobs.digestOf(1)), undefined, 'the refused blob was fetched upstream anyway');

  // The same digest again joins the running download: no slot needed, no second upstream GET.
  const joined = await get(first, 0);
  assert.equal(joined.statusCode, 200);
  // Another address has slots of its own.
  const other = await get(second, 1);
  assert.equal(other.statusCode, 200, 'another address was held up by the downloads of the first');

  blobs.release();
  for (const [response, index] of [[a, 0], [joined, 0], [other, 1]] as const) {
    assert.deepEqual(Buffer.from(await response.body.arrayBuffer()), blobs.bytesOf(index));
  }
  assert.equal(blobs.gets.get(blobs.digestOf(0)), 1);
  assert.equal(blobs.gets.get(blobs.digestOf(1)), 1);

  // The slot is free again once the download ended.
  const later = await get(first, 2);
  assert.equal(later.statusCode, 200);
  assert.deepEqual(Buffer.from(await later.body.arrayBuffer()), blobs.bytesOf(2));
});
