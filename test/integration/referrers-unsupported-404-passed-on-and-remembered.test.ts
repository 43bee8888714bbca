import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 13 item 3: a registry without the referrers API answers 404 (distribution-spec 1.1: clients then
// fall back to the tag schema, sha256-<hex>). The mirror passes that 404 on — never an empty index,
// which would tell clients "supported, no referrers" and stop the fallback — and remembers it for the
// upstream's tagTtl, so clients asking for every image they verify cost one upstream request per window.

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry({ referrersApi: { supported: false } }).start();
  mirror = await startMirror({ old: { url: upstream.url, tagTtl: '1500ms' } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

async function assertNotFound(response: Response): Promise<void> {
  assert.equal(response.status, 404);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await response.json()) as { errors?: Array<{ code: string }>; manifests?: unknown };
  assert.equal(body.manifests, undefined, 'not an (empty) index');
  assert.equal(body.errors?.[0]?.code, 'NAME_UNKNOWN');
}

test('a 404 from the upstream is a 404 to the client, asked once per window', async () => {
  const image = upstream.addImage('team/app', 'v1');
  const path = `${mirror.url}/v2/team/app/referrers/${image.digest}`;
  upstream.resetCounts();
  for (let i = 0; i < 20; i++) await assertNotFound(await fetch(path));
  const head = await fetch(path, { method: 'HEAD' });
  assert.equal(head.status, 404);
  assert.equal(upstream.count({ kind: 'referrers' }), 1);

  await new Promise((resolve) => setTimeout(resolve, 1600));
  await assertNotFound(await fetch(path));
  assert.equal(upstream.count({ kind: 'referrers' }), 2, 'asked again after the window');
});

test('a remembered 404 is answered while the upstream is down, so clients still take the tag-schema fallback', async () => {
  const image = upstream.addImage('team/offline', 'v1');
  const path = `${mirror.url}/v2/team/offline/referrers/${image.digest}`;
  await assertNotFound(await fetch(path));
  await new Promise((resolve) => setTimeout(resolve, 1600));
  upstream.failWith = { status: 503, kinds: ['referrers'] };
  try {
    await assertNotFound(await fetch(path));
  } finally {
    upstream.failWith = undefined;
  }
});

test('a 404 is not remembered when the upstream failed: 5xx is UNAVAILABLE, and the next request asks again', async () => {
  const image = upstream.addImage('team/flaky', 'v1');
  const path = `${mirror.url}/v2/team/flaky/referrers/${image.digest}`;
  upstream.resetCounts();
  upstream.failWith = { status: 500, kinds: ['referrers'] };
  try {
    assert.equal((await fetch(path)).status, 503);
  } finally {
    upstream.failWith = undefined;
  }
  await assertNotFound(await fetch(path));
  assert.equal(upstream.count({ kind: 'referrers' }), 2);
});
