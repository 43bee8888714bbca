import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

let upstream: MemoryRegistry;
let mirror: TestMirror;
let image: { digest: string; layer: string };

before(async () => {
  upstream = await new MemoryRegistry().start();
  mirror = await startMirror({ hub: { url: upstream.url, aliases: ['docker.io'], defaultNamespace: 'library' } });
  image = upstream.addImage('library/pushed', 'latest');
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

interface Attempt {
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** What docker push, crane and skopeo send (distribution spec "Push" and "Content Management"), with their real bodies. */
function attempts(base: string): Attempt[] {
  const uuid = '2b3c7c8e-6c8b-4bb0-9a4c-0d4f0b8c1a11';
  const layer = 'layer bytes';
  const manifest = JSON.stringify({ schemaVersion: 2, layers: [] });
  return [
    { method: 'POST', path: `${base}/pushed/blobs/uploads/` },
    { method: 'POST', path: `${base}/pushed/blobs/uploads/?mount=${image.layer}&from=library/other` },
    { method: 'POST', path: `${base}/pushed/blobs/uploads/?digest=${image.layer}`, headers: { 'content-type': 'application/octet-stream' }, body: layer },
    { method: 'PATCH', path: `${base}/pushed/blobs/uploads/${uuid}`, headers: { 'content-type': 'application/octet-stream', 'content-range': '0-10' }, body: layer },
    { method: 'PUT', path: `${base}/pushed/blobs/uploads/${uuid}?digest=${image.layer}`, headers: { 'content-type': 'application/octet-stream' }, body: layer },
    { method: 'PUT', path: `${base}/pushed/manifests/latest`, headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' }, body: manifest },
    { method: 'PUT', path: `${base}/pushed/manifests/v2`, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest },
    { method: 'PUT', path: `${base}/pushed/manifests/v3`, headers: { 'content-type': 'application/json' }, body: manifest },
    { method: 'PUT', path: `${base}/pushed/manifests/v4`, headers: { 'content-type': 'application/json' }, body: '{truncated' },
    { method: 'PATCH', path: `${base}/pushed/blobs/uploads/${uuid}`, headers: { 'content-type': 'application/octet-stream' }, body: 'x'.repeat(2 * 1024 * 1024) },
    { method: 'DELETE', path: `${base}/pushed/manifests/${image.digest}` },
    { method: 'DELETE', path: `${base}/pushed/manifests/latest` },
    { method: 'DELETE', path: `${base}/pushed/blobs/${image.layer}` },
    { method: 'DELETE', path: `${base}/pushed/blobs/uploads/${uuid}` },
  ];
}

for (const base of ['/v2', '/hub/v2']) {
  test(`writes under ${base}/ answer 405 UNSUPPORTED and never reach upstream`, async () => {
    upstream.resetCounts();
    const failures: string[] = [];
    for (const attempt of attempts(base)) {
      const response = await fetch(`${mirror.url}${attempt.path}`, {
        method: attempt.method,
        ...(attempt.headers && { headers: attempt.headers }),
        ...(attempt.body && { body: attempt.body }),
      });
      const text = await response.text();
      let code: unknown;
      try {
        code = (JSON.parse(text) as { errors?: Array<{ code?: unknown }> }).errors?.[0]?.code;
      } catch {
        code = `not JSON: ${text.slice(0, 60)}`;
      }
      const type = response.headers.get('content-type') ?? '';
      if (response.status !== 405 || code !== 'UNSUPPORTED' || !type.startsWith('application/json')) {
        failures.push(`${attempt.method} ${attempt.path} (${attempt.headers?.['content-type'] ?? 'no body'}) → ${response.status} ${String(code)}`);
      }
    }
    assert.equal(upstream.requests.length, 0, 'nothing reaches upstream');
    assert.deepEqual(failures, [], 'every write is refused as UNSUPPORTED');
  });
}

test('a write with ?ns= is refused the same way', async () => {
  upstream.resetCounts();
  const response = await fetch(`${mirror.url}/v2/library/pushed/manifests/latest?ns=docker.io`, { method: 'DELETE' });
  assert.equal(response.status, 405);
  assert.equal(((await response.json()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'UNSUPPORTED');
  assert.equal(upstream.requests.length, 0);
});
