import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Keyv from 'keyv';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 13, item 5: a tag, repository or digest the upstream said does not exist is remembered for
// upstreams.<name>.negativeTtl, per (upstream, repository, reference), in the shared metadata store.

let upstream: MemoryRegistry;
let hub: MemoryRegistry;
const shared = new Keyv();
let mirror: TestMirror;
let replica: TestMirror;
let hubMirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry().start();
  // Docker Hub answers 401 (insufficient_scope, after a token) for a repository that does not exist.
  hub = await new MemoryRegistry({ tokenAuth: true, unauthorizedForUnknown: true }).start();
  upstream.addImage('real/app', 'v1');
  mirror = await startMirror({ up: { url: upstream.url, negativeTtl: '10s' } }, { keyv: shared });
  replica = await startMirror({ up: { url: upstream.url, negativeTtl: '10s' } }, { keyv: shared });
  hubMirror = await startMirror({ hub: { url: hub.url, negativeTtl: '10s', defaultNamespace: 'library' } });
});
after(async () => {
  await Promise.all([mirror.close(), replica.close(), hubMirror.close()]);
  await Promise.all([upstream.stop(), hub.stop()]);
});

async function askMany(target: TestMirror, path: string, times: number): Promise<string[]> {
  const bodies: string[] = [];
  for (let i = 0; i < times; i++) {
    const method = i % 5 === 4 ? 'HEAD' : 'GET';
    const response = await target.app.inject({ method, url: path });
    assert.equal(response.statusCode, 404, `${method} #${i}`);
    if (method === 'GET') bodies.push(response.body);
  }
  return bodies;
}

function code(body: string): string | undefined {
  return (JSON.parse(body) as { errors: Array<{ code: string }> }).errors[0]?.code;
}

test('a typo asked 50 times in 10 s costs 1 upstream request, each answer the same 404 envelope', async () => {
  upstream.resetCounts();
  const started = Date.now();
  const bodies = await askMany(mirror, '/v2/real/app/manifests/v1-typo', 50);
  assert.ok(Date.now() - started < 10_000);
  assert.equal(upstream.count({ kind: 'manifest' }), 1);
  assert.equal(code(bodies[0] as string), 'MANIFEST_UNKNOWN');
  assert.equal(new Set(bodies).size, 1, 'the cached answer is the first answer');
});

test('a missing repository and a missing digest are remembered too', async () => {
  upstream.resetCounts();
  await askMany(mirror, '/v2/rela/app/manifests/v1', 20);
  await askMany(mirror, `/v2/real/app/manifests/sha256:${'ab'.repeat(32)}`, 20);
  assert.equal(upstream.count({ kind: 'manifest' }), 2);
});

test('another mirror sharing the metadata store asks the upstream 0 times', async () => {
  await askMany(mirror, '/v2/real/app/manifests/latest', 1);
  upstream.resetCounts();
  await askMany(replica, '/v2/real/app/manifests/latest', 50);
  assert.equal(upstream.count(), 0);
});

test('Docker Hub 401 for a missing repository: one upstream exchange (GET, token, retry), then none', async () => {
  hub.resetCounts();
  const bodies = await askMany(hubMirror, '/v2/no-such-image/manifests/latest', 50);
  assert.equal(code(bodies[0] as string), 'MANIFEST_UNKNOWN');
  assert.equal(hub.count({ kind: 'manifest' }), 2, 'the challenged GET and its retry, once');
  assert.equal(hub.count({ kind: 'token' }), 1);
});

test('a tag that appears upstream is found once negativeTtl has passed; negativeTtl 0 remembers nothing', async () => {
  const short = await startMirror({ up: { url: upstream.url, negativeTtl: '300ms' } });
  const off = await startMirror({ up: { url: upstream.url, negativeTtl: 0 } });
  try {
    assert.equal((await short.app.inject({ url: '/v2/real/app/manifests/soon' })).statusCode, 404);
    const image = upstream.addImage('real/app', 'soon');
    assert.equal((await short.app.inject({ url: '/v2/real/app/manifests/soon' })).statusCode, 404, 'still remembered');
    await new Promise((resolve) => setTimeout(resolve, 350));
    const found = await short.app.inject({ url: '/v2/real/app/manifests/soon' });
    assert.equal(found.statusCode, 200);
    assert.equal(found.headers['docker-content-digest'], image.digest);

    upstream.resetCounts();
    for (let i = 0; i < 3; i++) assert.equal((await off.app.inject({ url: '/v2/real/app/manifests/never' })).statusCode, 404);
    assert.equal(upstream.count({ kind: 'manifest' }), 3);
  } finally {
    await Promise.all([short.close(), off.close()]);
  }
});
