import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { BaitServer } from '../support/bait-server.ts';
import { HostileRegistry } from '../support/hostile-registry.ts';
import { realmOnAnotherHost } from '../support/hostile/realm-on-another-host.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9: an upstream's 401 is a claim. Its credentials go only to its own host or to its configured
// tokenHosts; a realm anywhere else is not contacted at all.

const passwordEnv = `PULLTHROUGH_TEST_PASSWORD_${randomBytes(6).toString('hex').toUpperCase()}`;

let bait: BaitServer;
let upstream: HostileRegistry;
let mirror: TestMirror;
let trusting: TestMirror;

before(async () => {
  process.env[passwordEnv] = `pw-${randomBytes(8).toString('hex')}`;
  bait = await new BaitServer().start();
  bait.answer = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"from-bait","expires_in":300}');
  };
  upstream = await new HostileRegistry(realmOnAnotherHost, bait).start();
  upstream.honest.addImage('team/app', 'v1');
  const hostile = { url: upstream.url, username: 'alice', passwordEnv, public: true };
  mirror = await startMirror({ hostile });
  // The control: the same realm host, listed in tokenHosts, does get the credentials.
  trusting = await startMirror({ hostile: { ...hostile, tokenHosts: ['127.0.0.2'], allowPrivateAddresses: true } });
});
after(async () => {
  await mirror.close();
  await trusting.close();
  await upstream.stop();
  await bait.stop();
  delete process.env[passwordEnv];
});

test('a realm on another host gets neither the credentials nor any request', async () => {
  for (const path of ['/v2/team/app/manifests/v1', '/v2/team/app/tags/list', '/v2/team/app/blobs/sha256:' + '0'.repeat(64)]) {
    const response = await fetch(`${mirror.url}${path}`);
    assert.ok(response.status >= 400, `${path}: refused, not served (got ${response.status})`);
    assert.equal(response.headers.get('www-authenticate')?.includes('127.0.0.2') ?? false, false, `${path}: the bait realm is not shown to the client`);
    await response.arrayBuffer();
  }
  assert.deepEqual(bait.hitsWithCredentials, [], 'no credentials reached the realm on another host');
  assert.deepEqual(bait.hits, [], 'the realm on another host was not contacted at all');
  assert.ok(upstream.requests.length > 0, 'the upstream itself was asked');
});

test('a realm host listed in tokenHosts does get the credentials (the allow-list is what decides)', async () => {
  const response = await fetch(`${trusting.url}/v2/team/app/manifests/v1`);
  await response.arrayBuffer();
  assert.ok(bait.hitsWithCredentials.length >= 1, 'the listed token host received the Basic credentials');
  assert.match(bait.hitsWithCredentials[0]?.authorization ?? '', /^Basic /);
});
