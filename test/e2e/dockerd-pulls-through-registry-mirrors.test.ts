import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Dockerd, startDockerd } from './support/dockerd-client.ts';
import { type MirrorFixture, startMirrorFixture } from './support/mirror-fixture.ts';

// dockerd sends Docker Hub names to registry-mirrors bare (/v2/library/NAME/...), pings /v2/, HEADs the
// tag, GETs by digest. If the mirror failed, dockerd would silently fall back to Docker Hub: the refusing
// proxy turns that into a counted attempt, and the upstream's counting proxy shows what the mirror fetched.

const TAG_TTL_MS = 8000;
let fixture: MirrorFixture;
let dockerd: Dockerd;

before(async () => {
  fixture = await startMirrorFixture({ namePrefix: 'dockerd', tagTtl: `${TAG_TTL_MS}ms` });
  dockerd = await startDockerd({ mirrorUrl: fixture.mirror.url });
});
after(async () => {
  await dockerd?.stop();
  await fixture?.stop();
});

test('dockerd pulls every image kind through the mirror, then again with no upstream GET at all', async () => {
  const started = Date.now();
  for (const image of Object.values(fixture.images)) {
    const first = await dockerd.pull(`${image.name}:${image.tag}`);
    assert.ok(first.ok, first.output);
    assert.equal(first.digest, image.digest, `${image.kind}: the digest upstream serves`);
  }
  assert.equal(dockerd.fallbackAttempts(), 0, 'dockerd never fell back to Docker Hub');
  const coldManifestGets = fixture.upstream.count({ method: 'GET', kind: 'manifest', status: 200 });
  const coldBlobGets = fixture.upstream.count({ method: 'GET', kind: 'blob', status: 200 });
  // oci: manifest; v2s2: manifest; multi-arch: index + amd64 manifest. Each blob once (config + 2 layers each).
  assert.equal(coldManifestGets, 4);
  assert.equal(coldBlobGets, 9);

  fixture.upstream.resetCounts();
  for (const image of Object.values(fixture.images)) {
    await dockerd.removeImage(`${image.name}:${image.tag}`);
    const again = await dockerd.pull(`${image.name}:${image.tag}`);
    assert.ok(again.ok, again.output);
    assert.equal(again.digest, image.digest);
  }
  assert.ok(Date.now() - started < TAG_TTL_MS, 'the second round ran within the freshness window');
  assert.equal(fixture.upstream.count(), 0, 'within the freshness window: 0 upstream requests');
  assert.equal(dockerd.fallbackAttempts(), 0);
});

test('after the freshness window a pull revalidates with HEAD only', async () => {
  await new Promise((resolve) => setTimeout(resolve, TAG_TTL_MS + 200));
  fixture.upstream.resetCounts();
  const image = fixture.images['docker-v2s2'];
  await dockerd.removeImage(`${image.name}:${image.tag}`);
  const pulled = await dockerd.pull(`${image.name}:${image.tag}`);
  assert.ok(pulled.ok, pulled.output);
  assert.equal(pulled.digest, image.digest);
  assert.equal(fixture.upstream.count({ method: 'GET', kind: 'manifest' }), 0, 'no manifest GET (a Docker Hub pull)');
  assert.equal(fixture.upstream.count({ method: 'GET', kind: 'blob' }), 0);
  assert.equal(fixture.upstream.count({ method: 'HEAD', kind: 'manifest', status: 200 }), 1, 'one HEAD revalidates the tag');
});
