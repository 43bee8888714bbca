import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { largestLayer, startFaultyUpstream, type FaultyUpstream } from './support/faulty-upstream.ts';
import { type MirrorProcess, startMirrorProcess, writeMirrorConfig } from './support/mirror-process.ts';
import { skopeoCopy } from './support/skopeo-client.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';
import { waitFor } from './support/wait-for.ts';

// The mirror process is killed with SIGKILL while a large layer is being filled: no cleanup code runs.
// After a restart no partial blob is visible — the temp file is gone and the blob path is absent until a
// verified download puts it there — and every pull works.

let upstream: FaultyUpstream;
let dir: string;
let mirror: MirrorProcess | undefined;

before(async () => {
  upstream = await startFaultyUpstream([{ name: 'library/killed', tag: 'v1', extraLayerBytes: 6 * 1024 * 1024 }]);
  dir = await makeTempDir('sigkill');
});
after(async () => {
  await mirror?.proc.stop(5_000);
  await upstream?.stop();
  await removeTempDir(dir);
});

test('after SIGKILL mid-fill and a restart: no partial blob, tmp/ emptied, and the pull works', async () => {
  const image = upstream.images[0] ?? assert.fail();
  const layer = largestLayer(image);
  const storage = path.join(dir, 'storage');
  const blobPath = path.join(storage, 'blobs', 'sha256', layer.digest.slice(7, 9), layer.digest.slice(7));
  const { file, port } = await writeMirrorConfig(dir, {
    storage: { path: storage },
    defaultUpstream: 'hub',
    upstreams: { hub: { url: upstream.proxy.url, defaultNamespace: 'library', tagTtl: '1h' } },
  });
  // About 6 s for the whole layer: the kill lands well inside it.
  upstream.proxy.addRule({ method: 'GET', kind: 'blob', pathIncludes: layer.digest, action: { kind: 'trickle', chunk: 64 * 1024, delayMs: 60 }, times: 1 });
  mirror = await startMirrorProcess(dir, file, port);

  // Settled into a value at once: the kill rejects it before the test looks.
  const download = fetch(`${mirror.url}/v2/killed/blobs/${layer.digest}`)
    .then((response) => response.arrayBuffer())
    .then(
      () => 'completed',
      () => 'failed',
    );
  const partial = await waitFor(
    'part of the layer to be on disk',
    async () => {
      for (const name of await readdir(path.join(storage, 'tmp'))) {
        const info = await stat(path.join(storage, 'tmp', name)).catch(() => undefined);
        if (info && info.size > 256 * 1024) return name;
      }
      return undefined;
    },
    { timeoutMs: 10_000, intervalMs: 50 },
  );
  process.kill(mirror.proc.pid, 'SIGKILL');
  assert.equal(await mirror.proc.exited, 'SIGKILL');
  assert.equal(await download, 'failed', 'the client saw the transfer fail');
  assert.ok((await readdir(path.join(storage, 'tmp'))).includes(partial), 'a partial temp file was left by the kill');
  await assert.rejects(stat(blobPath), 'the partial content was never under its digest');

  mirror = await startMirrorProcess(dir, file, port);
  assert.deepEqual(await readdir(path.join(storage, 'tmp')), [], 'start-up removed the leftovers');
  await assert.rejects(stat(blobPath));
  const head = await fetch(`${mirror.url}/v2/killed/blobs/${layer.digest}`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(Number(head.headers.get('content-length')), layer.size, 'HEAD reports the true size, not a partial one');

  const copied = await skopeoCopy(`127.0.0.1:${port}/killed:v1`, path.join(dir, 'pulled'));
  assert.ok(copied.ok, copied.output);
  assert.equal(copied.digest, image.digest);
  const kept = await readFile(blobPath);
  assert.equal(`sha256:${createHash('sha256').update(kept).digest('hex')}`, layer.digest, 'kept whole and verified');
  await mirror.proc.stop(10_000);
  assert.equal(await mirror.proc.exited, 0);
  mirror = undefined;
});
