import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// `pullthrough prefetch` pulls through a running mirror: chosen platforms only, then everything; a
// client pull afterwards costs upstream nothing.

let upstream: MemoryRegistry;
let mirror: TestMirror;
let amd64: ReturnType<MemoryRegistry['addImage']>;
let arm64: ReturnType<MemoryRegistry['addImage']>;

before(async () => {
  upstream = await new MemoryRegistry().start();
  amd64 = upstream.addImage('multi/app', 'amd64-only', 4096);
  arm64 = upstream.addImage('multi/app', 'arm64-only', 8192);
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: amd64.manifest.mediaType, digest: amd64.digest, size: amd64.manifest.bytes.length, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: arm64.manifest.mediaType, digest: arm64.digest, size: arm64.manifest.bytes.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ],
  };
  upstream.putManifest('multi/app', 'v1', 'application/vnd.oci.image.index.v1+json', Buffer.from(JSON.stringify(index)));
  mirror = await startMirror({ hub: { url: upstream.url } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

test('--platform fetches only that platform; without it, every platform; afterwards a pull is all cache', async () => {
  upstream.resetCounts();
  const arm = await runCli(['prefetch', '--mirror', mirror.url, '--platform', 'linux/arm64', 'multi/app:v1']);
  assert.equal(arm.status, 0, arm.stderr);
  assert.match(arm.stdout, /multi\/app:v1: sha256:\w+ · 1 manifest \(linux\/arm64\/v8\) · 1 layer \+ 1 config/);
  assert.ok(!arm.stderr.includes('1 layer + 1 config'), 'the summary is printed once, on stdout');
  const fetched = new Set(upstream.requests.filter((r) => r.method === 'GET').map((r) => r.path.split('/').pop()));
  assert.ok(fetched.has(arm64.layer) && fetched.has(arm64.config) && fetched.has(arm64.digest));
  assert.ok(!fetched.has(amd64.layer) && !fetched.has(amd64.digest), 'the other platform is not fetched');
  // Not a terminal: plain progress lines, no carriage returns.
  assert.match(arm.stderr, /\(2\/2\)/);
  assert.ok(!arm.stderr.includes('\r'));

  const all = await runCli(['prefetch', '--mirror', mirror.url, `127.0.0.1:${new URL(upstream.url).port}/multi/app:v1`]);
  assert.equal(all.status, 0, all.stderr);
  assert.match(all.stdout, /2 manifests \(linux\/amd64, linux\/arm64\/v8\) · 2 layers \+ 2 configs/);
  assert.equal(upstream.count({ method: 'GET', kind: 'blob' }), 4, 'each blob fetched from upstream once over both runs');

  upstream.resetCounts();
  for (const digest of [amd64.layer, arm64.layer]) {
    const blob = await fetch(`${mirror.url}/v2/multi/app/blobs/${digest}`);
    assert.equal(blob.status, 200);
    await blob.arrayBuffer();
  }
  assert.equal(upstream.count({ method: 'GET' }), 0);
});

test('an image that does not exist fails the run (status 1) but not the others; no image is a usage error (2)', async () => {
  const mixed = await runCli(['prefetch', '--mirror', mirror.url, 'multi/missing:v1', 'multi/app:amd64-only']);
  assert.equal(mixed.status, 1);
  assert.match(mixed.stderr, /multi\/missing:v1: failed: manifest v1: HTTP 404 MANIFEST_UNKNOWN/);
  assert.match(mixed.stdout, /multi\/app:amd64-only: sha256:/);
  const none = await runCli(['prefetch', '--mirror', mirror.url]);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /name at least one IMAGE/);
  const badPlatform = await runCli(['prefetch', '--mirror', mirror.url, '--platform', 'arm64', 'multi/app:v1']);
  assert.equal(badPlatform.status, 2);
});

test('a mirror that is not running is named with the reason; without --mirror the address used is said', async (t) => {
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port } = closed.address() as net.AddressInfo;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-prefetch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.yaml');
  await writeFile(file, `listen: 127.0.0.1:${port}\nupstreams:\n  hub: { url: "http://127.0.0.1:1" }\n`);
  const down = await runCli(['prefetch', '--config', file, 'alpine:3.20']);
  assert.equal(down.status, 1);
  assert.match(down.stderr, new RegExp(`through http://127\\.0\\.0\\.1:${port} \\(the listen address in ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  assert.match(down.stderr, new RegExp(`alpine:3\\.20: failed: cannot reach the mirror at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
});
