import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BaitServer, BAIT_BODY } from '../support/bait-server.ts';
import { HostileRegistry } from '../support/hostile-registry.ts';
import { redirectThroughNameToLoopback } from '../support/hostile/redirect-through-name-to-loopback.ts';
import { redirectToBait } from '../support/hostile/redirect-to-bait.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9: redirects are followed to the upstream's own host, and to other hosts only on public
// addresses (unless allowPrivateAddresses): a hostile upstream cannot make the mirror fetch an internal
// URL, let alone store or serve what it says.

let bait: BaitServer;
let upstream: HostileRegistry;
let mirror: TestMirror;
let named: HostileRegistry;
let namedMirror: TestMirror;

before(async () => {
  bait = await new BaitServer().start();
  upstream = await new HostileRegistry(redirectToBait, bait).start();
  mirror = await startMirror({ hostile: { url: upstream.url } });
  named = await new HostileRegistry(redirectThroughNameToLoopback, bait).start();
  namedMirror = await startMirror({ hostile: { url: named.url } });
});
after(async () => {
  await mirror.close();
  await namedMirror.close();
  await upstream.stop();
  await named.stop();
  await bait.stop();
});

test('a manifest by tag or digest and a blob redirected to a private address: the bait is never asked or served', async () => {
  const image = upstream.honest.addImage('team/app', 'v1');
  const paths = [
    '/v2/team/app/manifests/v1',
    `/v2/team/app/manifests/${image.digest}`,
    `/v2/team/app/blobs/${image.layer}`,
    '/v2/team/app/manifests/v1',
  ];
  for (const path of paths) {
    const response = await fetch(`${mirror.url}${path}`, { redirect: 'manual' });
    const body = await response.text();
    assert.notEqual(response.status, 200, `${path}: not served`);
    assert.equal(response.headers.get('location'), null, `${path}: no redirect passed on`);
    assert.ok(!body.includes(BAIT_BODY), `${path}: the bait body never reaches the client`);
  }
  assert.deepEqual(bait.hits, [], 'the internal address was never contacted');
});

test('a redirect to a name that resolves to loopback is refused when the connection looks the name up', async () => {
  named.honest.addImage('team/app', 'v1');
  const response = await fetch(`${namedMirror.url}/v2/team/app/manifests/v1`);
  const body = await response.text();
  assert.notEqual(response.status, 200);
  assert.ok(!body.includes('internal'), 'the internal body is not served');
  assert.ok(named.requests.some((r) => r.path === '/v2/team/app/manifests/v1'), 'the upstream was asked and redirected');
  assert.deepEqual(named.requests.filter((r) => r.path.startsWith('/loop/')), [], 'nothing connected to the loopback name');
});
