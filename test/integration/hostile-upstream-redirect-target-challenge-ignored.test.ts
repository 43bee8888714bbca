import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { BaitServer } from '../support/bait-server.ts';
import { HostileRegistry } from '../support/hostile-registry.ts';
import { baitChallengesWithItsOwnRealm, redirectTargetChallenge } from '../support/hostile/redirect-target-challenge.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9: a 401 from a redirect target (another origin than the upstream's) is not the upstream's
// challenge: it is never answered with the upstream's credentials, and never remembered for later requests.
// allowPrivateAddresses lets the mirror follow the redirect to the bait, so the challenge is really seen.

const passwordEnv = `PULLTHROUGH_TEST_PASSWORD_${randomBytes(6).toString('hex').toUpperCase()}`;

let bait: BaitServer;
let upstream: HostileRegistry;
let mirror: TestMirror;

before(async () => {
  process.env[passwordEnv] = `pw-${randomBytes(8).toString('hex')}`;
  bait = await new BaitServer().start();
  baitChallengesWithItsOwnRealm(bait);
  upstream = await new HostileRegistry(redirectTargetChallenge, bait).start();
  mirror = await startMirror({ hostile: { url: upstream.url, username: 'alice', passwordEnv, public: true, allowPrivateAddresses: true } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
  await bait.stop();
  delete process.env[passwordEnv];
});

test('the redirect target’s challenge gets no credentials and is not cached as the upstream’s', async () => {
  const image = upstream.honest.addImage('team/app', 'v1');
  const first = await fetch(`${mirror.url}/v2/team/app/manifests/v1`);
  await first.arrayBuffer();
  assert.notEqual(first.status, 200);
  assert.ok(bait.hits.length >= 1, 'the redirect was followed (allowPrivateAddresses) and the bait answered 401');
  assert.deepEqual(bait.hitsWithCredentials, [], 'no credentials to the redirect target or its realm');
  assert.equal(bait.hits.filter((hit) => hit.path.startsWith('/token')).length, 0, 'the redirect target’s realm was not asked');

  // Later requests to the upstream itself go out without any auth: the challenge was not remembered.
  const before = upstream.requests.length;
  const tags = await fetch(`${mirror.url}/v2/team/app/tags/list`);
  assert.equal(tags.status, 200);
  await tags.arrayBuffer();
  const blob = await fetch(`${mirror.url}/v2/team/app/blobs/${image.layer}`);
  await blob.arrayBuffer();
  assert.ok(upstream.requests.length > before);
  const listings = upstream.honest.requests.filter((r) => r.kind === 'tags');
  assert.equal(listings.length, 1);
  assert.equal(listings[0]?.authorization, undefined, 'the upstream asked for no auth, so none is sent to it');
  assert.deepEqual(bait.hitsWithCredentials, [], 'still no credentials anywhere but the upstream');
  assert.equal(bait.hits.filter((hit) => hit.path.startsWith('/token')).length, 0);
});
