import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { startNginxFront, type NginxFront } from '../support/nginx-front.ts';
import { scrape, sumOf } from '../support/prometheus-text.ts';
import { seedImage, type SeededImage } from './support/images.ts';
import { skopeoCopy } from './support/skopeo-client.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';
import { startUpstreamRegistry, type UpstreamRegistry } from './support/upstream-registry.ts';

// Issue 11, item 1: serve.offload with the shipped config/nginx-offload.conf in a real nginx. The mirror
// decides (routing, provenance, LRU) and nginx sends kept blobs from the store with sendfile: a real
// client pulls through nginx, the second pull costs the upstream nothing and the mirror sends none of
// the layer's bytes itself, Range and HEAD work, and nginx's internal location is not reachable.

const MiB = 1024 * 1024;
let upstream: UpstreamRegistry;
let image: SeededImage;
let mirror: TestMirror;
let nginx: NginxFront;
let work: string;

before(async () => {
  upstream = await startUpstreamRegistry({ auth: 'token' });
  image = await seedImage(upstream, { name: 'library/offload', tag: 'v1', kind: 'oci', content: 'random', extraLayerBytes: 6 * MiB });
  work = await makeTempDir('nginx-offload');
  mirror = await startMirror(
    { dockerhub: { url: upstream.url, aliases: ['docker.io'], defaultNamespace: 'library', tagTtl: '1h' } },
    { keyv: 'configured', extra: { serve: { offload: true }, trustProxy: true } },
  );
  nginx = await startNginxFront({ mirror: new URL(mirror.url).host, storagePath: mirror.storage, dir: path.join(work, 'nginx') });
});
after(async () => {
  await nginx?.stop();
  await mirror?.close();
  await upstream?.stop();
  await removeTempDir(work);
});

const biggest = (): { digest: string; size: number } => [...image.blobs].sort((a, b) => b.size - a.size)[0] as { digest: string; size: number };
const blobPath = (digest: string): string => `/v2/library/offload/blobs/${digest}`;
const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function servedFromCacheBytes(): Promise<number> {
  return sumOf(await scrape(mirror.url), 'pullthrough_served_bytes_total', { source: 'cache' });
}

test('skopeo pulls through nginx: cold through the mirror, then 0 upstream requests, offloaded bytes counted as served', async () => {
  const cold = await skopeoCopy(`${new URL(nginx.url).host}/dockerhub/offload:v1`, path.join(work, 'cold'));
  assert.ok(cold.ok, cold.output);
  assert.equal(cold.digest, image.digest);
  upstream.resetCounts();
  const sentByMirror = await (async () => {
    const before = await servedFromCacheBytes();
    const warm = await skopeoCopy(`${new URL(nginx.url).host}/dockerhub/offload:v1`, path.join(work, 'warm'));
    assert.ok(warm.ok, warm.output);
    assert.equal(warm.digest, image.digest);
    return (await servedFromCacheBytes()) - before;
  })();
  assert.equal(upstream.count(), 0, 'the warm pull cost the upstream nothing');
  // Offloaded answers are counted as served (the status page stays true) …
  const layerBytes = image.blobs.reduce((a, b) => a + b.size, 0);
  assert.ok(sentByMirror >= layerBytes, `served bytes ${sentByMirror} count the ${layerBytes} offloaded bytes`);
  // … and skopeo's copy holds the exact layer, whose bytes nginx sent.
  const layer = biggest();
  const copied = await readFile(path.join(work, 'warm', layer.digest.slice('sha256:'.length)));
  assert.equal(sha256(copied), layer.digest);
});

test('a kept blob through nginx: the mirror answers with X-Accel-Redirect only, nginx sends the bytes with the registry headers', async () => {
  const layer = biggest();
  // The mirror itself, asked as nginx asks: an empty answer naming the file, after its checks.
  const handedOff = await fetch(`${mirror.url}${blobPath(layer.digest)}`, { headers: { 'x-pullthrough-offload': '1' } });
  const handedOffBody = Buffer.from(await handedOff.arrayBuffer());
  assert.equal(handedOff.status, 200);
  assert.equal(handedOffBody.length, 0, 'the mirror sends no body when nginx takes the blob');
  assert.match(handedOff.headers.get('x-accel-redirect') ?? '', /^\/_pullthrough\/blobs\/sha256\/[0-9a-f]{2}\/[0-9a-f]{64}$/);
  assert.equal(handedOff.headers.get('cache-control'), null, 'no freshness for the hand-off itself');
  assert.equal(handedOff.headers.get('vary'), 'x-pullthrough-offload');
  // Asked directly without the front's mark, the mirror streams as before.
  const direct = await fetch(`${mirror.url}${blobPath(layer.digest)}`);
  assert.equal(sha256(Buffer.from(await direct.arrayBuffer())), layer.digest);
  assert.equal(direct.headers.get('x-accel-redirect'), null);

  const res = await fetch(`${nginx.url}${blobPath(layer.digest)}`);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(res.status, 200);
  assert.equal(body.length, layer.size);
  assert.equal(sha256(body), layer.digest);
  assert.equal(res.headers.get('docker-content-digest'), layer.digest);
  assert.equal(res.headers.get('etag'), `"${layer.digest}"`);
  assert.equal(res.headers.get('content-type'), 'application/octet-stream');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('cache-control'), 'max-age=31536000');
  assert.equal(res.headers.get('vary'), null, 'the hand-off’s Vary stays between nginx and the mirror');
  assert.equal(res.headers.get('x-accel-redirect'), null, 'the internal path never reaches the client');
});

test('Range resumes and HEAD through nginx answer like the mirror', async () => {
  const layer = biggest();
  const whole = Buffer.from(await (await fetch(`${nginx.url}${blobPath(layer.digest)}`)).arrayBuffer());
  const resume = async (range: string, from: number, to: number): Promise<void> => {
    const res = await fetch(`${nginx.url}${blobPath(layer.digest)}`, { headers: { range } });
    const part = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 206, range);
    assert.equal(res.headers.get('content-range'), `bytes ${from}-${to}/${layer.size}`, range);
    assert.ok(part.equals(whole.subarray(from, to + 1)), `${range}: the exact bytes`);
  };
  await resume(`bytes=${3 * MiB}-`, 3 * MiB, layer.size - 1);
  await resume('bytes=100-199', 100, 199);
  await resume('bytes=-4096', layer.size - 4096, layer.size - 1);

  const unsatisfiable = await fetch(`${nginx.url}${blobPath(layer.digest)}`, { headers: { range: `bytes=${layer.size}-` } });
  const error = (await unsatisfiable.json()) as { errors: Array<{ code: string }> };
  assert.equal(unsatisfiable.status, 416);
  assert.equal(error.errors[0]?.code, 'RANGE_INVALID', 'the mirror checks the range before handing off: the spec envelope');

  const head = await fetch(`${nginx.url}${blobPath(layer.digest)}`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(layer.size));
  assert.equal(head.headers.get('docker-content-digest'), layer.digest);
  assert.equal(head.headers.get('x-accel-redirect'), null);
});

test("nginx's internal location cannot be asked for directly, and a client's own offload mark is replaced", async () => {
  const layer = biggest();
  const hex = layer.digest.slice('sha256:'.length);
  for (const p of [`/_pullthrough/blobs/sha256/${hex.slice(0, 2)}/${hex}`, '/_pullthrough/blobs/../metadata.lmdb/data.mdb', '/_pullthrough/blobs/']) {
    const res = await fetch(`${nginx.url}${p}`);
    await res.arrayBuffer();
    assert.equal(res.status, 404, p);
  }
  // A client that says "no offload" through nginx still gets the blob, sent by nginx.
  const res = await fetch(`${nginx.url}${blobPath(layer.digest)}`, { headers: { 'x-pullthrough-offload': '0' } });
  assert.equal(sha256(Buffer.from(await res.arrayBuffer())), layer.digest);
});

test('a blob gone from the directory nginx serves is streamed by the mirror instead (error_page fallback)', async (t) => {
  // nginx pointed at an empty directory: every hand-off misses, as after an eviction between the
  // mirror's answer and nginx opening the file.
  const empty = await makeTempDir('nginx-offload-empty');
  const blind = await startNginxFront({ mirror: new URL(mirror.url).host, storagePath: empty, dir: path.join(work, 'nginx-blind') });
  t.after(async () => {
    await blind.stop();
    await removeTempDir(empty);
  });
  const layer = biggest();
  await (await fetch(`${mirror.url}${blobPath(layer.digest)}`)).arrayBuffer();
  upstream.resetCounts();
  const res = await fetch(`${blind.url}${blobPath(layer.digest)}`);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(res.status, 200, `${body.subarray(0, 300).toString()}\n${await blind.log()}`);
  assert.equal(sha256(body), layer.digest);
  assert.equal(upstream.count(), 0, 'streamed from the mirror’s store, not fetched again');
});
