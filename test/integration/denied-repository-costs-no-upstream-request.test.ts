import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Allow and deny lists (issue 13): a denied repository answers 403 DENIED in the spec's envelope for
// tags, digests and listings alike, and the upstream never hears of it.

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry().start();
  mirror = await startMirror({
    hub: { url: upstream.url, defaultNamespace: 'library', allow: ['library/*', 'myorg/**'], deny: ['library/evil'] },
  });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

test('a denied or unlisted repository is 403 DENIED by tag, digest and listing, with 0 upstream requests', async () => {
  const evil = upstream.addImage('library/evil', 'latest');
  const other = upstream.addImage('someone/else', 'v1');
  upstream.resetCounts();
  for (const path of [
    '/v2/evil/manifests/latest',
    `/v2/library/evil/manifests/${evil.digest}`,
    `/v2/library/evil/blobs/${evil.layer}`,
    '/v2/library/evil/tags/list',
    '/v2/someone/else/manifests/v1',
    `/v2/someone/else/blobs/${other.layer}`,
  ]) {
    for (const method of ['GET', 'HEAD']) {
      const response = await fetch(`${mirror.url}${path}`, { method });
      assert.equal(response.status, 403, `${method} ${path}`);
      if (method === 'GET') {
        const body = (await response.json()) as { errors: Array<{ code: string }> };
        assert.equal(body.errors[0]?.code, 'DENIED', path);
      }
    }
  }
  assert.equal(upstream.requests.length, 0, 'the upstream never heard of a denied repository');
});

test('allowed repositories are served as usual', async () => {
  upstream.addImage('library/alpine', '3.20');
  upstream.addImage('myorg/team/app', '1.0');
  assert.equal((await fetch(`${mirror.url}/v2/alpine/manifests/3.20`)).status, 200);
  assert.equal((await fetch(`${mirror.url}/v2/myorg/team/app/manifests/1.0`)).status, 200);
});
