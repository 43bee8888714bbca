import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startContainerd, writeHostsToml } from './support/containerd-client.ts';
import { startDockerd } from './support/dockerd-client.ts';
import { seedImage, type ImageKind, type SeededImage } from './support/images.ts';
import { podmanPull } from './support/podman-client.ts';
import { fetchManifestDirect } from './support/registry-client.ts';
import { skopeoCopy, skopeoInspect } from './support/skopeo-client.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';
import { startUpstreamRegistry, type UpstreamRegistry } from './support/upstream-registry.ts';

// The harness checked against itself, with no mirror: the counting proxy is a registry too, so every real
// client can pull through it, which proves the clients' setup and the token dance before any mirror exists.
describe('e2e support harness', () => {
  let registry: UpstreamRegistry;
  const images = new Map<ImageKind, SeededImage>();
  const image = (kind: ImageKind): SeededImage => {
    const img = images.get(kind);
    assert.ok(img, `seeded ${kind}`);
    return img;
  };

  before(async () => {
    registry = await startUpstreamRegistry({ auth: 'token' });
    for (const kind of ['oci', 'docker-v2s2', 'multi-arch'] as const) {
      images.set(kind, await seedImage(registry, { name: `library/selftest-${kind}`, tag: 'v1', kind, extraLayerBytes: 64 * 1024 }));
    }
  });

  after(async () => {
    await registry?.stop();
  });

  test('seeding goes to the registry directly and reports what the registry serves', async () => {
    assert.equal(registry.count(), 0, 'seeding must not show in the counting proxy');
    assert.equal(registry.tokenRequests(), 0, 'seeding token requests are reset');
    assert.equal(image('oci').mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(image('docker-v2s2').mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(image('multi-arch').mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(
      image('multi-arch').platforms.map((p) => p.platform.architecture),
      ['amd64', 'arm64'],
    );
    for (const img of images.values()) {
      const fetched = await fetchManifestDirect(registry, img.name, img.tag);
      assert.equal(fetched.digest, img.digest);
      for (const p of img.platforms) {
        assert.equal(p.layers.length, 2);
        for (const layer of p.layers) assert.match(layer.diffId, /^sha256:[0-9a-f]{64}$/);
      }
    }
  });

  test('a pull through the counting proxy is counted, with a token dance', async () => {
    registry.resetCounts();
    const img = image('oci');
    const dest = await makeTempDir('selftest-copy');
    try {
      const res = await skopeoCopy(img.ref(registry.host), join(dest, 'img'));
      assert.ok(res.ok, res.output);
      assert.equal(res.digest, img.digest);
    } finally {
      await removeTempDir(dest);
    }
    assert.ok(registry.count({ method: 'GET', kind: 'manifest', status: 200 }) > 0);
    assert.equal(registry.count({ method: 'GET', kind: 'blob', status: 200 }), 3, 'config + 2 layers');
    assert.ok(registry.tokenRequests() > 0);
  });

  test('pause() takes the upstream down and resume() brings it back on the same port', async () => {
    await registry.pause();
    await assert.rejects(fetch(`${registry.url}/v2/`));
    const down = await skopeoInspect(image('oci').ref(registry.host), { raw: true });
    assert.equal(down.ok, false);
    await registry.resume();
    const res = await fetch(`${registry.url}/v2/`);
    await res.arrayBuffer();
    assert.equal(res.status, 401);
    const up = await skopeoInspect(image('oci').ref(registry.host), { raw: true });
    assert.ok(up.ok, up.output);
    assert.equal(up.digest, image('oci').digest);
  });

  test('basic-auth and no-auth upstreams take a push and serve it', async () => {
    for (const auth of ['basic', 'none'] as const) {
      const other = await startUpstreamRegistry({ auth });
      try {
        const img = await seedImage(other, { name: 'team/app', tag: '1.0', content: 'random' });
        const withCreds = await skopeoInspect(img.ref(other.host), { raw: true, creds: other.credentials });
        assert.ok(withCreds.ok, withCreds.output);
        assert.equal(withCreds.digest, img.digest);
        const anonymous = await skopeoInspect(img.ref(other.host), { raw: true });
        assert.equal(anonymous.ok, auth === 'none', anonymous.output);
      } finally {
        await other.stop();
      }
    }
  });

  test('dockerd pulls through registry-mirrors pointing at the proxy (plain HTTP)', async () => {
    const dockerd = await startDockerd({ mirrorUrl: registry.url });
    try {
      registry.resetCounts();
      const img = image('docker-v2s2');
      const res = await dockerd.pull(`${img.name}:${img.tag}`);
      assert.ok(res.ok, `${res.output}\n${await dockerd.log()}`);
      assert.equal(res.digest, img.digest);
      assert.equal(dockerd.fallbackAttempts(), 0);
      assert.equal(registry.count({ method: 'HEAD', kind: 'manifest', status: 200 }), 1);
      assert.equal(registry.count({ method: 'GET', kind: 'blob', status: 200 }), 3);

      // A tag the upstream lacks: dockerd falls back to Docker Hub, which the refusing proxy turns into a failure.
      const missing = await dockerd.pull('library/selftest-missing:v1');
      assert.equal(missing.ok, false);
      assert.ok(dockerd.fallbackAttempts() > 0);
    } finally {
      await dockerd.stop();
    }
  });

  test('containerd pulls and unpacks through hosts.toml pointing at the proxy', async () => {
    const containerd = await startContainerd();
    const hostsDir = await makeTempDir('selftest-hosts');
    try {
      await writeHostsToml(hostsDir, 'docker.io', registry.url);
      registry.resetCounts();
      const img = image('multi-arch');
      const res = await containerd.pull(`docker.io/${img.name}:${img.tag}`, { hostsDir });
      assert.ok(res.ok, `${res.output}\n${await containerd.log()}`);
      assert.equal(res.digest, img.digest);
      const requests = registry.requests();
      assert.ok(requests.length > 0);
      assert.ok(requests.every((r) => r.url.includes('ns=docker.io')), 'containerd adds ?ns=docker.io');
      assert.equal(registry.count({ kind: 'ping' }), 0, 'containerd sends no /v2/ ping');

      // The native snapshotter holds the unpacked files: the layers are real tars.
      const snapshots = join(containerd.dir, 'root', 'io.containerd.snapshotter.v1.native', 'snapshots');
      const found: string[] = [];
      for (const id of await readdir(snapshots)) {
        const text = await readFile(join(snapshots, id, 'etc', 'pullthrough-image'), 'utf8').catch(() => undefined);
        if (text !== undefined) found.push(text);
      }
      assert.ok(found.some((t) => t.includes('linux/amd64')), `unpacked files: ${found.join('')}`);
    } finally {
      await containerd.stop();
      await removeTempDir(hostsDir);
    }
  });

  test('podman pulls through a registries.conf mirror pointing at the proxy', async () => {
    registry.resetCounts();
    const img = image('oci');
    const res = await podmanPull(`docker.io/${img.name}:${img.tag}`, { mirrorHost: registry.host });
    assert.ok(res.ok, res.output);
    assert.equal(res.digest, img.digest);
    assert.equal(res.fallbackAttempts, 0);
    assert.ok(registry.count({ method: 'GET', kind: 'manifest', status: 200 }) > 0);
  });
});
