import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// An upstream configured with credentials may hold private images. With no client auth configured,
// nobody can prove who they are, so its content is refused (403 DENIED, with a message saying what to
// configure) and never fetched — unless the config marks the upstream `public: true`.

const passwordEnv = 'PULLTHROUGH_TEST_PRIVATE_PASSWORD';
let privateUpstream: MemoryRegistry;
let publicUpstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  process.env[passwordEnv] = 'private-secret';
  const credentials = { username: 'svc', password: 'private-secret' };
  privateUpstream = await new MemoryRegistry({ tokenAuth: true, tokenCredentials: credentials }).start();
  publicUpstream = await new MemoryRegistry({ tokenAuth: true, tokenCredentials: credentials }).start();
  mirror = await startMirror({
    corp: { url: privateUpstream.url, username: 'svc', passwordEnv },
    hub: { url: publicUpstream.url, username: 'svc', passwordEnv, public: true },
  });
});
after(async () => {
  await mirror.close();
  await privateUpstream.stop();
  await publicUpstream.stop();
});

test('content of a credentialed upstream is refused with 403 DENIED and a clear message, and never fetched', async () => {
  const image = privateUpstream.addImage('secret/app', 'v1');
  for (const path of ['/v2/corp/secret/app/manifests/v1', `/corp/v2/secret/app/blobs/${image.layer}`, '/v2/corp/secret/app/tags/list']) {
    for (const method of ['GET', 'HEAD']) {
      const response = await fetch(`${mirror.url}${path}`, { method });
      assert.equal(response.status, 403, `${method} ${path}`);
      if (method === 'GET') {
        const body = (await response.json()) as { errors: Array<{ code: string; message: string }> };
        assert.equal(body.errors[0]?.code, 'DENIED');
        assert.match(body.errors[0]?.message ?? '', /public: true/);
        assert.match(body.errors[0]?.message ?? '', /configure auth/);
      }
    }
  }
  assert.equal(privateUpstream.requests.length, 0);
});

test('an upstream marked public: true is served to anonymous clients with its credentials', async () => {
  const image = publicUpstream.addImage('open/app', 'v1');
  const response = await fetch(`${mirror.url}/v2/hub/open/app/manifests/v1`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('docker-content-digest'), image.digest);
  assert.ok(publicUpstream.count({ kind: 'token' }) >= 1);
});
