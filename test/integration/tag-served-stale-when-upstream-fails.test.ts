import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

/**
 * A fresh upstream and mirror per test: after a 429 the mirror rightly asks that upstream nothing until its
 * Retry-After (issue 15), which must not leak into the next case.
 */
async function setup(t: TestContext): Promise<{ upstream: MemoryRegistry; mirror: TestMirror }> {
  const upstream = await new MemoryRegistry().start();
  const mirror = await startMirror({ hub: { url: upstream.url, tagTtl: '1ms' } });
  t.after(async () => {
    await mirror.close();
    await upstream.stop();
  });
  return { upstream, mirror };
}

async function errorCode(response: Response): Promise<string | undefined> {
  const body = (await response.json()) as { errors: Array<{ code: string }> };
  return body.errors[0]?.code;
}

for (const failure of [
  { status: 500, name: '5xx' },
  { status: 429, name: '429' },
  { status: 403, name: 'auth failure (403)' },
]) {
  test(`an expired tag is served stale when upstream answers ${failure.name}`, async (t) => {
    const { upstream, mirror } = await setup(t);
    const image = upstream.addImage(`stale/app-${failure.status}`, 'v1');
    assert.equal((await fetch(`${mirror.url}/v2/stale/app-${failure.status}/manifests/v1`)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 5));
    upstream.failWith = { status: failure.status, headers: { 'retry-after': '17' } };
    try {
      const stale = await fetch(`${mirror.url}/v2/stale/app-${failure.status}/manifests/v1`);
      assert.equal(stale.status, 200);
      assert.equal(stale.headers.get('docker-content-digest'), image.digest);
      assert.deepEqual(Buffer.from(await stale.arrayBuffer()), image.manifest.bytes);
    } finally {
      upstream.failWith = undefined;
    }
  });
}

test('with nothing cached, upstream 429 is TOOMANYREQUESTS with its Retry-After', async (t) => {
  const { upstream, mirror } = await setup(t);
  upstream.addImage('stale/never-seen', 'v1');
  upstream.failWith = { status: 429, headers: { 'retry-after': '17' } };
  try {
    const response = await fetch(`${mirror.url}/v2/stale/never-seen/manifests/v1`);
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), '17');
    assert.equal(await errorCode(response), 'TOOMANYREQUESTS');
  } finally {
    upstream.failWith = undefined;
  }
});

test('a tag the upstream now says is gone (404) is not served stale', async (t) => {
  const { upstream, mirror } = await setup(t);
  upstream.addImage('stale/deleted', 'v1');
  assert.equal((await fetch(`${mirror.url}/v2/stale/deleted/manifests/v1`)).status, 200);
  upstream.tags.get('stale/deleted')?.delete('v1');
  await new Promise((resolve) => setTimeout(resolve, 5));
  const response = await fetch(`${mirror.url}/v2/stale/deleted/manifests/v1`);
  assert.equal(response.status, 404);
  assert.equal(await errorCode(response), 'MANIFEST_UNKNOWN');
});
