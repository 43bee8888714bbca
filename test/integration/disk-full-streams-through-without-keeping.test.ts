import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// A full disk must not break pulls: the blob streams through to the client from memory, nothing partial
// is kept, and the next pull (disk free again) keeps it. The "disk" is a 256 KiB tmpfs over the store's
// tmp/ (root is needed to mount it, as CI and the developer machines are).

let upstream: MemoryRegistry;
let mirror: TestMirror;
let tmpMount: string;

before(async () => {
  upstream = await new MemoryRegistry().start();
  mirror = await startMirror({ hub: { url: upstream.url } });
  tmpMount = path.join(mirror.storage, 'tmp');
  await mkdir(tmpMount, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', tmpMount]);
});
after(async () => {
  // Close first: it waits for running fills, whose open files would keep the mount busy.
  await mirror.close({ keepStorage: true });
  execFileSync('umount', [tmpMount]);
  await rm(mirror.storage, { recursive: true, force: true });
  await upstream.stop();
});

test('with the store full, a 2 MiB blob still reaches the client whole, and is not kept', async () => {
  upstream.addImage('full/app', 'v1');
  const { digest, bytes } = upstream.addRandomBlob(2 * 1024 * 1024);
  const response = await fetch(`${mirror.url}/v2/full/app/blobs/${digest}`);
  assert.equal(response.status, 200);
  assert.deepEqual(Buffer.from(await response.arrayBuffer()), bytes);
  const parsed = { algorithm: 'sha256' as const, hex: digest.slice(7), text: digest };
  await mirror.app.mirror.fills.get(parsed)?.finished.catch(() => undefined);
  assert.equal(await mirror.app.mirror.store.stat(parsed), undefined, 'nothing kept');
  assert.deepEqual(await readdir(tmpMount), [], 'no partial file left in tmp/');

  execFileSync('umount', [tmpMount]);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', tmpMount]);
  upstream.resetCounts();
  const again = await fetch(`${mirror.url}/v2/full/app/blobs/${digest}`);
  assert.deepEqual(Buffer.from(await again.arrayBuffer()), bytes);
  assert.equal(upstream.count({ method: 'GET', kind: 'blob' }), 1, 'it was not kept the first time');
});
