import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  // Docker Hub answers 401, not 404, for a repository that does not exist, even with a valid token.
  upstream = await new MemoryRegistry({ tokenAuth: true, unauthorizedForUnknown: true }).start();
  mirror = await startMirror({ hub: { url: upstream.url, defaultNamespace: 'library' } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

async function errorCodes(response: Response): Promise<unknown[]> {
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await response.json()) as { errors?: Array<{ code?: unknown; message?: unknown }> };
  assert.ok(Array.isArray(body.errors), 'the spec envelope {"errors":[...]}');
  for (const error of body.errors) assert.equal(typeof error.message, 'string');
  return body.errors.map((error) => error.code);
}

const missingDigest = `sha256:${'ab'.repeat(32)}`;

test('a manifest of a missing repository is 404 MANIFEST_UNKNOWN, after one token and one retry', async () => {
  const response = await fetch(`${mirror.url}/v2/no-such-image/manifests/latest`);
  assert.equal(response.status, 404);
  assert.deepEqual(await errorCodes(response), ['MANIFEST_UNKNOWN']);
  assert.equal(upstream.count({ kind: 'token' }), 1);
  assert.equal(upstream.count({ kind: 'manifest' }), 2, 'the challenged GET and one retry with the token, no loop');

  const head = await fetch(`${mirror.url}/v2/no-such-image/manifests/latest`, { method: 'HEAD' });
  assert.equal(head.status, 404);
  assert.equal((await head.arrayBuffer()).byteLength, 0);
});

test('a blob of a missing repository is 404 BLOB_UNKNOWN', async () => {
  upstream.resetCounts();
  const response = await fetch(`${mirror.url}/v2/no-such-image/blobs/${missingDigest}`);
  assert.equal(response.status, 404);
  assert.deepEqual(await errorCodes(response), ['BLOB_UNKNOWN']);
  const head = await fetch(`${mirror.url}/v2/no-such-image/blobs/${missingDigest}`, { method: 'HEAD' });
  assert.equal(head.status, 404);
  assert.equal(upstream.count({ kind: 'blob' }), 2, 'one GET and one HEAD, with the cached token');
  assert.equal(upstream.count({ kind: 'token' }), 0);
});
