import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Routing by virtual host (issue 13): ghcr.cache.localhost/owner/img reaches the ghcr upstream by the
// request's Host alone; an unknown label under the wildcard is NAME_UNKNOWN and contacts nobody; the
// mirror's own name keeps the usual routing.

let hub: MemoryRegistry;
let ghcr: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  hub = await new MemoryRegistry().start();
  ghcr = await new MemoryRegistry().start();
  mirror = await startMirror(
    { dockerhub: { url: hub.url, aliases: ['docker.io'] }, ghcr: { url: ghcr.url, aliases: ['ghcr.io'], hosts: ['containers.corp.localhost'] } },
    { extra: { virtualHosts: '*.cache.localhost' } },
  );
});
after(async () => {
  await mirror.close();
  await hub.stop();
  await ghcr.stop();
});

async function getAs(host: string, path: string): Promise<{ status: number; digest: string | undefined }> {
  const response = await request(`${mirror.url}${path}`, { headers: { host } });
  await response.body.dump();
  const digest = response.headers['docker-content-digest'];
  return { status: response.statusCode, digest: typeof digest === 'string' ? digest : undefined };
}

test('a wildcard virtual host and a listed host route to their upstream; the default stays the default', async () => {
  const app = ghcr.addImage('owner/img', 'v1');
  const alpine = hub.addImage('library/alpine', '3.20');
  const port = new URL(mirror.url).port;
  assert.deepEqual(await getAs(`ghcr.cache.localhost:${port}`, '/v2/owner/img/manifests/v1'), { status: 200, digest: app.digest });
  assert.deepEqual(await getAs('containers.corp.localhost', '/v2/owner/img/manifests/v1'), { status: 200, digest: app.digest });
  assert.deepEqual(await getAs(`127.0.0.1:${port}`, '/v2/library/alpine/manifests/3.20'), { status: 200, digest: alpine.digest });
  assert.deepEqual(await getAs(`dockerhub.cache.localhost:${port}`, '/v2/library/alpine/manifests/3.20'), { status: 200, digest: alpine.digest });
  assert.equal(hub.count({ method: 'GET', kind: 'manifest' }), 1);
  assert.equal(ghcr.count({ method: 'GET', kind: 'manifest' }), 1);
});

test('an unknown label under the wildcard is NAME_UNKNOWN and no upstream is asked', async () => {
  hub.resetCounts();
  ghcr.resetCounts();
  const { status } = await getAs('evil.cache.localhost', '/v2/library/alpine/manifests/3.20');
  assert.equal(status, 404);
  assert.equal(hub.requests.length + ghcr.requests.length, 0);
});
