import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type MirrorProcess, startMirrorProcess, writeMirrorConfig } from '../e2e/support/mirror-process.ts';
import { makeTempDir, removeTempDir } from '../e2e/support/temp-dir.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { connectionRefused } from '../e2e/support/connection-refused.ts';

// SIGTERM while a slow blob download is in flight: the server stops accepting connections at once,
// lets the download finish (whole, correct bytes), then exits 0 — within a bound, not the whole grace.

const EXIT_BOUND_MS = 10_000;
let upstream: MemoryRegistry;
let dir: string;
let mirror: MirrorProcess | undefined;

before(async () => {
  upstream = await new MemoryRegistry().start();
  dir = await makeTempDir('sigterm');
});
after(async () => {
  await mirror?.proc.stop(2_000);
  await upstream.stop();
  await removeTempDir(dir);
});

test('SIGTERM refuses new connections, finishes the download in flight, then exits 0', async () => {
  upstream.addImage('slow/app', 'v1');
  const { digest, bytes } = upstream.addRandomBlob(1024 * 1024);
  // About 1.6 s for the whole blob.
  upstream.trickle = { chunk: 64 * 1024, delayMs: 100 };
  const { file, port } = await writeMirrorConfig(dir, {
    storage: { path: path.join(dir, 'storage') },
    defaultUpstream: 'hub',
    upstreams: { hub: { url: upstream.url } },
  });
  mirror = await startMirrorProcess(dir, file, port);

  const response = await fetch(`${mirror.url}/v2/slow/app/blobs/${digest}`);
  assert.equal(response.status, 200);
  const reader = (response.body ?? assert.fail()).getReader();
  const hash = createHash('sha256');
  let received = 0;
  const first = await reader.read();
  assert.ok(!first.done);
  hash.update(first.value);
  received += first.value.length;

  const signalled = Date.now();
  process.kill(mirror.proc.pid, 'SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.ok(await connectionRefused(port), 'new connections are refused while draining');

  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    hash.update(value);
    received += value.length;
  }
  assert.equal(received, bytes.length, 'the in-flight download completed');
  assert.equal(`sha256:${hash.digest('hex')}`, digest);
  assert.equal(await mirror.proc.exited, 0);
  assert.ok(Date.now() - signalled < EXIT_BOUND_MS, `exited after ${Date.now() - signalled} ms`);
  mirror = undefined;
});
