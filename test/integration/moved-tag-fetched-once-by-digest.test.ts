import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// A 1 s tag window: with 300 ms, a loaded machine (other tests on both cores) let the window run out in the
// middle of a step and a helper saw a second upstream GET.
let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry({ tokenAuth: true }).start();
  mirror = await startMirror({ hub: { url: upstream.url, tagTtl: '1s' } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

test('after the window, concurrent requests share one HEAD; a moved tag costs one GET by digest', async () => {
  upstream.addImage('team/app', 'stable');
  assert.equal((await fetch(`${mirror.url}/v2/team/app/manifests/stable`)).status, 200);
  await new Promise((resolve) => setTimeout(resolve, 1_100));

  upstream.resetCounts();
  const unchanged = await Promise.all(Array.from({ length: 8 }, () => fetch(`${mirror.url}/v2/team/app/manifests/stable`)));
  assert.ok(unchanged.every((r) => r.status === 200));
  assert.equal(upstream.count({ method: 'HEAD', kind: 'manifest' }), 1, 'one shared revalidation');
  assert.equal(upstream.count({ method: 'GET', kind: 'manifest' }), 0, 'unchanged tag: no GET');

  const moved = upstream.addImage('team/app', 'stable');
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  upstream.resetCounts();
  const answer = await fetch(`${mirror.url}/v2/team/app/manifests/stable`);
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get('docker-content-digest'), moved.digest);
  assert.deepEqual(Buffer.from(await answer.arrayBuffer()), moved.manifest.bytes);
  assert.equal(upstream.count({ method: 'HEAD', kind: 'manifest' }), 1);
  const gets = upstream.requests.filter((r) => r.method === 'GET' && r.kind === 'manifest');
  assert.deepEqual(gets.map((r) => r.path), [`/v2/team/app/manifests/${moved.digest}`], 'the new digest, fetched once');
});
