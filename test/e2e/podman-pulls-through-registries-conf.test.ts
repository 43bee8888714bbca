import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type MirrorFixture, startMirrorFixture } from './support/mirror-fixture.ts';
import { podmanPull } from './support/podman-client.ts';

// podman reads mirrors from registries.conf; it sends GET on the tag (no HEAD) and then the blobs.

let fixture: MirrorFixture;

before(async () => {
  fixture = await startMirrorFixture({ namePrefix: 'podman' });
});
after(async () => {
  await fixture?.stop();
});

test('podman pulls through a registries.conf mirror, then again without upstream GETs', async () => {
  for (const image of Object.values(fixture.images)) {
    const pulled = await podmanPull(`docker.io/${image.name}:${image.tag}`, { mirrorHost: fixture.mirrorHost });
    assert.ok(pulled.ok, pulled.output);
    assert.equal(pulled.digest, image.digest, image.kind);
    assert.equal(pulled.fallbackAttempts, 0);
  }
  fixture.upstream.resetCounts();
  const image = fixture.images.oci;
  const again = await podmanPull(`docker.io/${image.name}:${image.tag}`, { mirrorHost: fixture.mirrorHost });
  assert.ok(again.ok, again.output);
  assert.equal(again.digest, image.digest);
  assert.equal(fixture.upstream.count(), 0, 'within the freshness window: 0 upstream requests');
});

test('podman pulls through a mirror location with a path prefix (/dockerhub)', async () => {
  fixture.upstream.resetCounts();
  const image = fixture.images['docker-v2s2'];
  const pulled = await podmanPull(`docker.io/${image.name}:${image.tag}`, { mirrorHost: `${fixture.mirrorHost}/dockerhub` });
  assert.ok(pulled.ok, pulled.output);
  assert.equal(pulled.digest, image.digest);
  assert.equal(fixture.upstream.count(), 0);
});
