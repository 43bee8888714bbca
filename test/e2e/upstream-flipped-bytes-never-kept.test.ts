import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parseDigest } from '../../src/reference.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { largestLayer, startFaultyUpstream, type FaultyUpstream } from './support/faulty-upstream.ts';
import { skopeoCopy } from './support/skopeo-client.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';
import { waitFor } from './support/wait-for.ts';

// The real registry's answer has one byte flipped on the way: the layer does not match its digest.
// Nothing is kept, the client never receives a complete body (the end is held back until the digest is
// checked, then the transfer is cut), and a manifest that does not match is refused outright.

let upstream: FaultyUpstream;
let mirror: TestMirror;
let workDir: string;

before(async () => {
  upstream = await startFaultyUpstream([{ name: 'library/flip', tag: 'v1', extraLayerBytes: 1024 * 1024 }]);
  mirror = await startMirror({ hub: { url: upstream.proxy.url, defaultNamespace: 'library', tagTtl: '1h' } });
  workDir = await makeTempDir('flip-e2e');
});
after(async () => {
  await mirror?.close();
  await upstream?.stop();
  await removeTempDir(workDir);
});

test('a layer with a flipped byte is never kept and never delivered complete; the next pull gets it right', async () => {
  const image = upstream.images[0] ?? assert.fail();
  const layer = largestLayer(image);
  const digest = parseDigest(layer.digest) ?? assert.fail();
  upstream.proxy.addRule({ method: 'GET', kind: 'blob', pathIncludes: layer.digest, action: { kind: 'flip', atByte: Math.floor(layer.size / 3) }, times: 1 });

  const response = await fetch(`${mirror.url}/v2/flip/blobs/${layer.digest}`);
  let received = 0;
  await assert.rejects(
    (async () => {
      for await (const chunk of response.body ?? assert.fail()) received += (chunk as Uint8Array).length;
    })(),
  );
  assert.ok(received < layer.size, `got ${received} of ${layer.size} bytes: never a complete body`);
  assert.equal(await mirror.app.mirror.store.stat(digest), undefined);
  await waitFor('temp files to go', async () => ((await mirror.app.mirror.store.inFlight()).writes === 0 ? true : undefined), { timeoutMs: 3_000 });

  const copied = await skopeoCopy(`${new URL(mirror.url).host}/flip:v1`, path.join(workDir, 'ok'));
  assert.ok(copied.ok, copied.output);
  assert.equal(copied.digest, image.digest);
  assert.equal(upstream.proxy.count({ fault: 'flip' }), 1);
});

test('a manifest with a flipped byte is refused with 503 and not kept', async () => {
  const image = upstream.images[0] ?? assert.fail();
  await mirror.close();
  mirror = await startMirror({ hub: { url: upstream.proxy.url, defaultNamespace: 'library', tagTtl: '1h' } });
  upstream.proxy.addRule({ method: 'GET', kind: 'manifest', action: { kind: 'flip', atByte: 20 }, times: 2 });
  for (const reference of ['v1', image.digest]) {
    const response = await fetch(`${mirror.url}/v2/flip/manifests/${reference}`, { headers: { accept: image.mediaType } });
    assert.equal(response.status, 503, reference);
    assert.equal(((await response.json()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'UNAVAILABLE');
  }
  assert.equal(await mirror.app.mirror.store.stat(parseDigest(image.digest) ?? assert.fail()), undefined);
});
