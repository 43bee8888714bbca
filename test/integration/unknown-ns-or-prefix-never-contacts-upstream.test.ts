import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

let upstream: MemoryRegistry;
let mirror: TestMirror;
let image: { digest: string; layer: string };

before(async () => {
  upstream = await new MemoryRegistry().start();
  // The only upstream is also the default: were an unknown ns or prefix ignored, these requests would succeed.
  mirror = await startMirror({ hub: { url: upstream.url, aliases: ['docker.io'], defaultNamespace: 'library' } });
  image = upstream.addImage('library/alpine', 'latest');
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

async function assertNameUnknown(response: Response, label: string): Promise<void> {
  assert.equal(response.status, 404, label);
  if (response.headers.get('content-length') === '0') return;
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/, label);
  const body = (await response.json()) as { errors?: Array<{ code?: unknown }> };
  assert.equal(body.errors?.[0]?.code, 'NAME_UNKNOWN', label);
}

function readPaths(base: string, query: string): string[] {
  return [
    `${base}/alpine/manifests/latest${query}`,
    `${base}/library/alpine/manifests/${image.digest}${query}`,
    `${base}/library/alpine/blobs/${image.layer}${query}`,
    `${base}/library/alpine/tags/list${query}`,
    `${base}/library/alpine/referrers/${image.digest}${query}`,
  ];
}

test('an unknown ?ns= is 404 NAME_UNKNOWN with no upstream request', async () => {
  for (const ns of ['evil.example.com', 'ghcr.io', `127.0.0.1:1`]) {
    for (const path of readPaths('/v2', `?ns=${encodeURIComponent(ns)}`)) {
      const get = await fetch(`${mirror.url}${path}`);
      await assertNameUnknown(get, `GET ${path}`);
      const head = await fetch(`${mirror.url}${path}`, { method: 'HEAD' });
      assert.equal(head.status, 404, `HEAD ${path}`);
    }
  }
  assert.equal(upstream.requests.length, 0);
});

test('an unknown /<prefix>/v2/ is 404 NAME_UNKNOWN with no upstream request, ping included', async () => {
  for (const prefix of ['nope', 'evil.example.com', 'ghcr.io']) {
    for (const path of [`/${prefix}/v2/`, ...readPaths(`/${prefix}/v2`, '')]) {
      const get = await fetch(`${mirror.url}${path}`);
      await assertNameUnknown(get, `GET ${path}`);
      const head = await fetch(`${mirror.url}${path}`, { method: 'HEAD' });
      assert.equal(head.status, 404, `HEAD ${path}`);
    }
  }
  assert.equal(upstream.requests.length, 0);
});

test('control: the same requests with the known ns and prefix do reach upstream', async () => {
  for (const path of [`/v2/alpine/manifests/latest?ns=docker.io`, `/hub/v2/alpine/tags/list`, `/docker.io/v2/library/alpine/blobs/${image.layer}`]) {
    const response = await fetch(`${mirror.url}${path}`);
    assert.equal(response.status, 200, path);
    await response.arrayBuffer();
  }
  assert.deepEqual(
    upstream.requests.filter((r) => r.kind !== 'ping').map((r) => r.kind),
    ['manifest', 'tags', 'blob'],
  );
});
