import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BaitServer } from '../support/bait-server.ts';
import { filesUnder } from '../support/files-under.ts';
import { HostileRegistry } from '../support/hostile-registry.ts';
import { GIANT_LENGTH, giantContentLength } from '../support/hostile/giant-content-length.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { scrape, sumOf } from '../support/prometheus-text.ts';

// Issue 9: an upstream announcing a petabyte blob. Sizes come from verified bytes, and a blob announced
// larger than limits.maxBlobSize is refused before a byte is stored: the client never sees the number,
// nothing is kept, the mirror hangs up on the upstream at once and allocates nothing by it.

const MAX_BLOB = 1024 * 1024;
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const attack = giantContentLength();
let bait: BaitServer;
let upstream: HostileRegistry;
let mirror: TestMirror;

before(async () => {
  bait = await new BaitServer().start();
  upstream = await new HostileRegistry(attack.scenario, bait).start();
  mirror = await startMirror({ hub: { url: upstream.url } }, { extra: { limits: { maxBlobSize: MAX_BLOB } } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
  await bait.stop();
});

test('a blob announced at a petabyte is refused: the client never sees that length, nothing is kept', async () => {
  const before = process.memoryUsage();
  const response = await fetch(`${mirror.url}/v2/evil/app/blobs/${DIGEST}`, { signal: AbortSignal.timeout(5000) });
  assert.notEqual(response.headers.get('content-length'), String(GIANT_LENGTH), 'the announced length reached the client');
  const text = await response.text();
  assert.equal(response.status, 403, text);
  const body = JSON.parse(text) as { errors: Array<{ code: string; detail: { announced: number; maxBlobSize: number } }> };
  assert.equal(body.errors[0]?.code, 'DENIED');
  assert.deepEqual(body.errors[0]?.detail, { announced: GIANT_LENGTH, maxBlobSize: MAX_BLOB });

  const head = await fetch(`${mirror.url}/v2/evil/app/blobs/${DIGEST}`, { method: 'HEAD' });
  assert.notEqual(head.headers.get('content-length'), String(GIANT_LENGTH), 'HEAD passed the announced length on');
  assert.equal(head.status, 403);

  // The upstream body is not read: the mirror hung up on it.
  for (let i = 0; i < 50 && attack.stats.closedByMirror < 1; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(attack.stats.closedByMirror, 1, 'the mirror kept reading the upstream answer');
  assert.deepEqual(await filesUnder(path.join(mirror.storage, 'blobs')), [], 'nothing kept');
  assert.deepEqual(await filesUnder(path.join(mirror.storage, 'tmp')), [], 'nothing left in tmp/');
  const grown = process.memoryUsage().arrayBuffers - before.arrayBuffers;
  assert.ok(grown < 64 * 1024 * 1024, `buffers grew by ${grown} bytes`);

  // Metrics count verified bytes, not announced ones.
  const samples = await scrape(mirror.url);
  assert.ok(sumOf(samples, 'pullthrough_upstream_fetched_bytes_total') < MAX_BLOB, 'upstream bytes metric took the announced length');
  assert.ok(sumOf(samples, 'pullthrough_served_bytes_total') < MAX_BLOB, 'served bytes metric took the announced length');
});
