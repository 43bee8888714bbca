import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type MirrorFixture, startMirrorFixture } from './support/mirror-fixture.ts';
import { skopeoCopy } from './support/skopeo-client.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';

// With the upstream gone, what the mirror kept is still served — tags included, past their freshness
// window (stale), and after a restart of the mirror (the embedded metadata store persists) — while
// anything not kept fails fast with the spec's error instead of hanging.

const REDIS_URL = process.env.PULLTHROUGH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

for (const backend of ['embedded', 'redis'] as const) {
  describe(`with ${backend} metadata`, () => {
    let fixture: MirrorFixture;
    let workDir: string;

    before(async () => {
      fixture = await startMirrorFixture({ namePrefix: `down-${backend}`, tagTtl: '1ms', ...(backend === 'redis' && { redis: REDIS_URL }) });
      workDir = await makeTempDir('down-e2e');
    });
    after(async () => {
      await fixture?.upstream.resume();
      await fixture?.stop();
      await removeTempDir(workDir);
    });

    test('cached tags and digests are served with the upstream down, also after a mirror restart', async () => {
      const image = fixture.images['docker-v2s2'];
      const ref = `${fixture.mirrorHost}/${image.name}:${image.tag}`;
      const warm = await skopeoCopy(ref, path.join(workDir, 'warm'));
      assert.ok(warm.ok, warm.output);

      await fixture.upstream.pause();
      const stale = await skopeoCopy(`${fixture.mirrorHost}/${image.name}:${image.tag}`, path.join(workDir, 'stale'));
      assert.ok(stale.ok, stale.output);
      assert.equal(stale.digest, image.digest);

      await fixture.restartMirror();
      const afterRestart = await skopeoCopy(`${fixture.mirrorHost}/${image.name}:${image.tag}`, path.join(workDir, 'restart'));
      assert.ok(afterRestart.ok, afterRestart.output);
      assert.equal(afterRestart.digest, image.digest);

      const byDigest = await fetch(`${fixture.mirror.url}/v2/${image.name}/manifests/${image.digest}`);
      assert.equal(byDigest.status, 200);
      assert.deepEqual(Buffer.from(await byDigest.arrayBuffer()), image.manifest);
    });

    test('uncached content fails fast with UNAVAILABLE while the upstream is down', async () => {
      await fixture.upstream.pause();
      const image = fixture.images.oci;
      for (const url of [
        `${fixture.mirror.url}/v2/${image.name}/manifests/${image.tag}`,
        `${fixture.mirror.url}/v2/${image.name}/blobs/${image.layers[0]?.digest}`,
      ]) {
        const started = Date.now();
        const response = await fetch(url);
        assert.equal(response.status, 503, url);
        assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
        const body = (await response.json()) as { errors: Array<{ code: string }> };
        assert.equal(body.errors[0]?.code, 'UNAVAILABLE');
        assert.ok(Date.now() - started < 3000, 'fails fast, no hang');
      }
    });
  });
}
