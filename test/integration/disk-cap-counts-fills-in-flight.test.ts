import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9: tmp/ counts against storage.maxSize. Fills in flight reserve their size; a fill starts by
// making room (eviction runs before, not after), and one that would still take kept + in-flight bytes
// past the cap streams through to its client without being kept. On disk (blobs + tmp, measured while
// the fills run) the store never holds more than the cap plus one blob.

const BLOB = 1024 * 1024;
const CAP = 4 * BLOB;
const KEPT_FIRST = 4;
const CONCURRENT = 8;
let upstream: MemoryRegistry;
let mirror: TestMirror;
const blobs: Array<{ digest: string; bytes: Buffer }> = [];

before(async () => {
  upstream = await new MemoryRegistry().start();
  upstream.addImage('cap/app', 'v1');
  for (let i = 0; i < KEPT_FIRST + CONCURRENT; i++) blobs.push(upstream.addRandomBlob(BLOB));
  const storage = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-diskcap-'));
  // Grace 0: everything kept is "minutes" old at once, so eviction may make room.
  mirror = await startMirror({ hub: { url: upstream.url } }, { storage, extra: { storage: { path: storage, maxSize: CAP, evictionGrace: '0s', evictionInterval: '1h' } } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

async function bytesOnDisk(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    total += await stat(path.join(entry.parentPath, entry.name)).then((info) => info.size, () => 0);
  }
  return total;
}

async function pull(blob: { digest: string; bytes: Buffer }): Promise<void> {
  const response = await fetch(`${mirror.url}/v2/cap/app/blobs/${blob.digest}`);
  assert.equal(response.status, 200);
  const body = Buffer.from(await response.arrayBuffer());
  assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, blob.digest);
}

test('with the store at its cap, concurrent cold fills never take the disk past the cap plus one blob', async () => {
  // Fill the store up to its cap.
  for (const blob of blobs.slice(0, KEPT_FIRST)) {
    await pull(blob);
    await mirror.app.mirror.fills.drain();
  }
  await mirror.app.mirror.eviction.idle();

  upstream.trickle = { chunk: 64 * 1024, delayMs: 10 };
  let highest = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      highest = Math.max(highest, await bytesOnDisk(mirror.storage));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  await Promise.all(blobs.slice(KEPT_FIRST).map((blob) => pull(blob)));
  await mirror.app.mirror.fills.drain();
  sampling = false;
  await sampler;
  await mirror.app.mirror.eviction.idle();
  const end = await bytesOnDisk(mirror.storage);
  process.stdout.write(`# disk cap: cap ${CAP} B, ${CONCURRENT} concurrent ${BLOB} B fills over a full store: highest on disk ${highest} B, at the end ${end} B\n`);
  assert.ok(highest <= CAP + BLOB, `disk held ${highest} bytes while fills ran, cap ${CAP} + one blob ${BLOB}`);
  assert.ok(end <= CAP, `disk holds ${end} bytes at the end, cap ${CAP}`);
});
