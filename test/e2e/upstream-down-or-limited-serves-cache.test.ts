import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { startFaultyUpstream, type FaultyUpstream } from './support/faulty-upstream.ts';
import { skopeoCopy } from './support/skopeo-client.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';

// A real registry that refuses connections when the mirror starts, fails with 5xx while it serves, or
// rate-limits it with 429: the mirror starts anyway, serves what it kept (tags stale past their
// freshness window), fails fast on the rest with UNAVAILABLE, and passes a 429 on as TOOMANYREQUESTS
// with the upstream's Retry-After when it has nothing to serve instead.

const FAST_MS = 1500;
let upstream: FaultyUpstream;
let mirror: TestMirror | undefined;
let workDir: string;
const hub = (url: string): Parameters<typeof startMirror>[0] => ({ hub: { url, defaultNamespace: 'library', tagTtl: '1ms' } });

before(async () => {
  upstream = await startFaultyUpstream([
    { name: 'library/kept', tag: 'v1', extraLayerBytes: 64 * 1024 },
    { name: 'library/never', tag: 'v1' },
  ]);
  workDir = await makeTempDir('down-e2e');
});
after(async () => {
  await mirror?.close();
  await upstream?.stop();
  await removeTempDir(workDir);
});

async function code(response: Response): Promise<string | undefined> {
  return ((await response.json()) as { errors: Array<{ code: string }> }).errors[0]?.code;
}

test('upstream refusing connections at start: the mirror starts, serves what it kept, UNAVAILABLE fast on the rest', async () => {
  const kept = upstream.images[0] ?? assert.fail();
  const warm = await startMirror(hub(upstream.proxy.url), { keyv: 'configured' });
  const copied = await skopeoCopy(`${new URL(warm.url).host}/kept:v1`, path.join(workDir, 'warm'));
  assert.ok(copied.ok, copied.output);
  await warm.close({ keepStorage: true });

  upstream.proxy.refuseConnections(true);
  try {
    mirror = await startMirror(hub(upstream.proxy.url), { storage: warm.storage, keyv: 'configured' });
    const cached = await skopeoCopy(`${new URL(mirror.url).host}/kept:v1`, path.join(workDir, 'down'));
    assert.ok(cached.ok, cached.output);
    assert.equal(cached.digest, kept.digest);
    const started = Date.now();
    const missing = await fetch(`${mirror.url}/v2/never/manifests/v1`);
    assert.equal(missing.status, 503);
    assert.equal(await code(missing), 'UNAVAILABLE');
    assert.ok(Date.now() - started < FAST_MS, `took ${Date.now() - started} ms`);
  } finally {
    upstream.proxy.refuseConnections(false);
  }
});

test('upstream answering 5xx during service: kept tags are served stale, uncached ones fail with UNAVAILABLE', async () => {
  assert.ok(mirror);
  const kept = upstream.images[0] ?? assert.fail();
  upstream.proxy.addRule({ kind: 'manifest', action: { kind: 'status', status: 502 } });
  upstream.proxy.addRule({ kind: 'blob', action: { kind: 'status', status: 500 } });
  try {
    const stale = await fetch(`${mirror.url}/v2/kept/manifests/v1`, { method: 'HEAD' });
    assert.equal(stale.status, 200);
    assert.equal(stale.headers.get('docker-content-digest'), kept.digest);
    const never = upstream.images[1] ?? assert.fail();
    for (const target of ['/v2/never/manifests/v1', `/v2/never/blobs/${never.layers[0]?.digest}`]) {
      const started = Date.now();
      const response: Response = await fetch(`${mirror.url}${target}`);
      assert.equal(response.status, 503, target);
      assert.equal(await code(response), 'UNAVAILABLE');
      assert.ok(Date.now() - started < FAST_MS);
    }
    assert.ok(upstream.proxy.count({ fault: 'status' }) >= 3, 'the mirror did ask, and was refused');
  } finally {
    upstream.proxy.clearRules();
  }
});

test('upstream 429: a stale answer if there is one, otherwise TOOMANYREQUESTS with the upstream Retry-After', async () => {
  assert.ok(mirror);
  const kept = upstream.images[0] ?? assert.fail();
  upstream.proxy.addRule({ kind: 'manifest', action: { kind: 'status', status: 429, headers: { 'retry-after': '17' } } });
  try {
    const stale = await fetch(`${mirror.url}/v2/kept/manifests/v1`);
    assert.equal(stale.status, 200);
    assert.equal(stale.headers.get('docker-content-digest'), kept.digest);
    await stale.arrayBuffer();
    const limited = await fetch(`${mirror.url}/v2/never/manifests/v1`);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '17');
    assert.equal(await code(limited), 'TOOMANYREQUESTS');
  } finally {
    upstream.proxy.clearRules();
  }
});
