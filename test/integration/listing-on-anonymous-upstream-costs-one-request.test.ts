import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry().start();
  mirror = await startMirror({ internal: { url: upstream.url } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

test('once the upstream is known to need no auth, each tags/list or referrers listing costs one upstream request', async () => {
  const image = upstream.addImage('team/app', 'v1');
  const paths = ['/v2/team/app/tags/list', '/v2/team/app/tags/list', `/v2/team/app/referrers/${image.digest}`, '/v2/team/app/tags/list'];
  for (const path of paths) {
    const response = await fetch(`${mirror.url}${path}`);
    assert.equal(response.status, 200, path);
    await response.arrayBuffer();
  }
  assert.equal(upstream.count({ kind: 'tags' }) + upstream.count({ kind: 'referrers' }), 4);
  // Learning the scheme may cost one /v2/ ping; asking again before every listing is a wasted round trip.
  assert.ok(upstream.count({ kind: 'ping' }) <= 1, `pings: ${upstream.count({ kind: 'ping' })} for ${paths.length} listings`);
});
