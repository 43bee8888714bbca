import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Containerd, startContainerd, writeHostsToml } from './support/containerd-client.ts';
import { type MirrorFixture, startMirrorFixture } from './support/mirror-fixture.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';

// containerd (Kubernetes nodes, nerdctl, BuildKit) reaches a mirror through hosts.toml: every request
// carries ?ns=docker.io, and a host URL with a path (/dockerhub) prefixes every request path.

let fixture: MirrorFixture;
let containerd: Containerd;
const hostsDirs: string[] = [];

before(async () => {
  fixture = await startMirrorFixture({ namePrefix: 'ctrd' });
  containerd = await startContainerd();
});
after(async () => {
  await containerd?.stop();
  await fixture?.stop();
  for (const dir of hostsDirs) await removeTempDir(dir);
});

async function hostsFor(mirrorUrl: string): Promise<string> {
  const dir = await makeTempDir('hosts');
  hostsDirs.push(dir);
  await writeHostsToml(dir, 'docker.io', mirrorUrl);
  return dir;
}

test('containerd pulls with ?ns=docker.io, then again with no upstream manifest or blob GET', async () => {
  const hostsDir = await hostsFor(fixture.mirror.url);
  for (const image of Object.values(fixture.images)) {
    const pulled = await containerd.pull(`docker.io/${image.name}:${image.tag}`, { hostsDir });
    assert.ok(pulled.ok, pulled.output);
    assert.equal(pulled.digest, image.digest, image.kind);
  }
  assert.equal(containerd.fallbackAttempts(), 0, 'containerd never fell back past the mirror');
  assert.ok(fixture.upstream.count({ method: 'GET', kind: 'blob', status: 200 }) > 0);

  fixture.upstream.resetCounts();
  for (const image of Object.values(fixture.images)) {
    await containerd.removeImage(`docker.io/${image.name}:${image.tag}`);
    const again = await containerd.pull(`docker.io/${image.name}:${image.tag}`, { hostsDir });
    assert.ok(again.ok, again.output);
    assert.equal(again.digest, image.digest);
  }
  assert.equal(fixture.upstream.count(), 0, 'within the freshness window: 0 upstream requests');
});

test('containerd pulls through a host path (/dockerhub/v2/...) served from the same cache', async () => {
  const hostsDir = await hostsFor(`${fixture.mirror.url}/dockerhub`);
  fixture.upstream.resetCounts();
  const image = fixture.images['multi-arch'];
  await containerd.removeImage(`docker.io/${image.name}:${image.tag}`);
  const pulled = await containerd.pull(`docker.io/${image.name}:${image.tag}`, { hostsDir });
  assert.ok(pulled.ok, pulled.output);
  assert.equal(pulled.digest, image.digest);
  assert.equal(containerd.fallbackAttempts(), 0);
  assert.equal(fixture.upstream.count(), 0, 'already cached by the ?ns= pulls: nothing goes upstream');
});
