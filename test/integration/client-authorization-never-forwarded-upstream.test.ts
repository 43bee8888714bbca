import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

const CLIENT_SECRET = 'client-own-secret-0123456789';
const clientHeaders = [`Bearer ${CLIENT_SECRET}`, `Basic ${Buffer.from(`user:${CLIENT_SECRET}`).toString('base64')}`];

let anonymous: MemoryRegistry;
let tokened: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  anonymous = await new MemoryRegistry({ paginateTags: true }).start();
  tokened = await new MemoryRegistry({ tokenAuth: true, redirectBlobs: true }).start();
  mirror = await startMirror({
    open: { url: anonymous.url, defaultNamespace: 'library' },
    hub: { url: tokened.url, defaultNamespace: 'library' },
  });
});
after(async () => {
  await mirror.close();
  await anonymous.stop();
  await tokened.stop();
});

/** Every endpoint a client reads, by tag and by digest, GET and HEAD, with the client's own credentials. */
async function readEverything(prefix: string, image: { digest: string; config: string; layer: string }): Promise<void> {
  const paths = [
    `${prefix}/v2/`,
    `${prefix}/v2/app/manifests/v1`,
    `${prefix}/v2/app/manifests/${image.digest}`,
    `${prefix}/v2/app/blobs/${image.config}`,
    `${prefix}/v2/app/blobs/${image.layer}`,
    `${prefix}/v2/app/tags/list?n=1`,
    `${prefix}/v2/app/referrers/${image.digest}`,
  ];
  for (const authorization of clientHeaders) {
    for (const method of ['HEAD', 'GET']) {
      for (const path of paths) {
        const response = await fetch(`${mirror.url}${path}`, { method, headers: { authorization } });
        assert.equal(response.status, 200, `${method} ${path}`);
        await response.arrayBuffer();
      }
    }
  }
}

test('an anonymous upstream gets no Authorization header at all, whatever the client sends the mirror', async () => {
  const image = anonymous.addImage('library/app', 'v1');
  await readEverything('/open', image);
  assert.ok(anonymous.count({ kind: 'tags' }) >= 4 && anonymous.count({ kind: 'referrers' }) >= 1, 'listings went upstream (referrers are cached)');
  assert.ok(anonymous.count({ kind: 'blob' }) >= 2 && anonymous.count({ kind: 'manifest' }) >= 1);
  for (const request of anonymous.requests) assert.equal(request.authorization, undefined, `${request.method} ${request.path}`);
});

test('a token upstream only ever sees the mirror\'s own token, never the client\'s credentials', async () => {
  const image = tokened.addImage('library/app', 'v1');
  await readEverything('/hub', image);
  assert.ok(tokened.count({ kind: 'tags' }) >= 4 && tokened.count({ kind: 'referrers' }) >= 1, 'listings went upstream (referrers are cached)');
  for (const request of tokened.requests) {
    assert.ok(!request.authorization?.includes(CLIENT_SECRET), `${request.method} ${request.path}`);
    assert.ok(!request.authorization?.includes(Buffer.from(`user:${CLIENT_SECRET}`).toString('base64')), `${request.method} ${request.path}`);
    if (request.authorization !== undefined) assert.match(request.authorization, /^Bearer t-/);
  }
  const cdn = tokened.requests.filter((r) => r.kind === 'cdn');
  assert.ok(cdn.length >= 1);
});
