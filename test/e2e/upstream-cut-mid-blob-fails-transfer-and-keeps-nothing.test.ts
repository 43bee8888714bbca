import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parseDigest } from '../../src/reference.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { largestLayer, startFaultyUpstream, type FaultyUpstream } from './support/faulty-upstream.ts';
import { skopeoCopy } from './support/skopeo-client.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';
import { waitFor } from './support/wait-for.ts';

// The real registry's connection is cut halfway through a layer: the client sees a failed transfer,
// never a short body that looks complete; nothing is kept (no blob, no temp file); the next pull
// fetches the layer whole. A client that resumes with `Range: bytes=N-` succeeds, on a blob still
// being filled and on a kept one.

let upstream: FaultyUpstream;
let mirror: TestMirror;
let workDir: string;

before(async () => {
  upstream = await startFaultyUpstream([
    { name: 'library/cut', tag: 'v1', extraLayerBytes: 2 * 1024 * 1024 },
    { name: 'library/resume', tag: 'v1', extraLayerBytes: 2 * 1024 * 1024 },
  ]);
  mirror = await startMirror({ hub: { url: upstream.proxy.url, aliases: ['docker.io'], defaultNamespace: 'library', tagTtl: '1h' } });
  workDir = await makeTempDir('cut-e2e');
});
after(async () => {
  await mirror?.close();
  await upstream?.stop();
  await removeTempDir(workDir);
});

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function tempFilesGone(): Promise<boolean> {
  return waitFor('temp files to be removed', async () => ((await mirror.app.mirror.store.inFlight()).writes === 0 ? true : undefined), { timeoutMs: 3_000 });
}

test('a cut halfway through a layer fails the transfer, keeps nothing, and the next pull fetches it whole', async () => {
  const image = upstream.images[0];
  assert.ok(image);
  const layer = largestLayer(image);
  upstream.proxy.addRule({ method: 'GET', kind: 'blob', pathIncludes: layer.digest, action: { kind: 'cut', afterBytes: Math.floor(layer.size / 2) }, times: 1 });

  const response = await fetch(`${mirror.url}/v2/cut/blobs/${layer.digest}`);
  assert.equal(response.status, 200, 'headers went out before the cut');
  assert.equal(Number(response.headers.get('content-length')), layer.size);
  await assert.rejects(response.arrayBuffer(), 'the client sees a failed transfer, not a short complete body');
  assert.equal(await mirror.app.mirror.store.stat(parseDigest(layer.digest) ?? assert.fail()), undefined, 'nothing kept');
  assert.ok(await tempFilesGone());

  const copied = await skopeoCopy(`${new URL(mirror.url).host}/cut:v1`, path.join(workDir, 'cut'));
  assert.ok(copied.ok, copied.output);
  assert.equal(copied.digest, image.digest);
  assert.equal(upstream.proxy.count({ method: 'GET', kind: 'blob', fault: 'cut' }), 1);
  const kept = (await mirror.app.mirror.store.readAll(parseDigest(layer.digest) ?? assert.fail())) ?? assert.fail('kept');
  assert.equal(kept.length, layer.size);
  assert.equal(sha256(kept), layer.digest, 'the kept layer is whole and verified');
});

test('Range: bytes=N- resumes a download, both while the blob is being filled and once it is kept', async () => {
  const image = upstream.images[1];
  assert.ok(image);
  const layer = largestLayer(image);
  // Slow enough that the fill is still running when the client comes back (about 2 s in all).
  upstream.proxy.addRule({ method: 'GET', kind: 'blob', pathIncludes: layer.digest, action: { kind: 'trickle', chunk: 64 * 1024, delayMs: 60 }, times: 1 });
  upstream.proxy.resetCounts();

  const abort = new AbortController();
  const first = await fetch(`${mirror.url}/v2/resume/blobs/${layer.digest}`, { signal: abort.signal });
  assert.equal(first.status, 200);
  const head: Buffer[] = [];
  let got = 0;
  const reader = (first.body ?? assert.fail()).getReader();
  while (got < 300 * 1024) {
    const { value, done } = await reader.read();
    if (done) break;
    head.push(Buffer.from(value));
    got += value.length;
  }
  abort.abort();
  const prefix = Buffer.concat(head);
  const digest = parseDigest(layer.digest) ?? assert.fail();
  assert.ok(mirror.app.mirror.fills.get(digest), 'the fill is still running');

  const resumed = await fetch(`${mirror.url}/v2/resume/blobs/${layer.digest}`, { headers: { range: `bytes=${prefix.length}-` } });
  assert.equal(resumed.status, 206);
  assert.equal(resumed.headers.get('content-range'), `bytes ${prefix.length}-${layer.size - 1}/${layer.size}`);
  const rest = Buffer.from(await resumed.arrayBuffer());
  assert.equal(sha256(Buffer.concat([prefix, rest])), layer.digest, 'prefix + resumed rest = the blob');

  await waitFor('the blob to be kept', async () => ((await mirror.app.mirror.store.stat(digest)) ? true : undefined), { timeoutMs: 10_000 });
  const offset = 12_345;
  const fromDisk = await fetch(`${mirror.url}/v2/resume/blobs/${layer.digest}`, { headers: { range: `bytes=${offset}-` } });
  assert.equal(fromDisk.status, 206);
  assert.equal(fromDisk.headers.get('content-range'), `bytes ${offset}-${layer.size - 1}/${layer.size}`);
  const tail = Buffer.from(await fromDisk.arrayBuffer());
  const whole = (await mirror.app.mirror.store.readAll(digest)) ?? assert.fail('kept');
  assert.deepEqual(tail, whole.subarray(offset));
  assert.equal(upstream.proxy.count({ method: 'GET', kind: 'blob' }), 1, 'one upstream download for all three');
});
