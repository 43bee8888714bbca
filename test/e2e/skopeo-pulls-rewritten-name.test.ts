import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type MirrorFixture, startMirrorFixture } from './support/mirror-fixture.ts';
import { skopeoCopy } from './support/skopeo-client.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';

// Rewritten names: MIRROR/<alias>/NAME:TAG, the way people pull without any client configuration.

let fixture: MirrorFixture;
let workDir: string;

before(async () => {
  fixture = await startMirrorFixture({ namePrefix: 'skopeo' });
  workDir = await makeTempDir('skopeo-e2e');
});
after(async () => {
  await fixture?.stop();
  await removeTempDir(workDir);
});

test('skopeo copies MIRROR/dockerhub/NAME and MIRROR/docker.io/library/NAME with the upstream digest', async () => {
  let n = 0;
  for (const image of Object.values(fixture.images)) {
    const shortName = image.name.replace(/^library\//, '');
    const copied = await skopeoCopy(`${fixture.mirrorHost}/dockerhub/${shortName}:${image.tag}`, path.join(workDir, `a${n++}`), { all: true });
    assert.ok(copied.ok, copied.output);
    assert.equal(copied.digest, image.digest, image.kind);
  }
  fixture.upstream.resetCounts();
  for (const image of Object.values(fixture.images)) {
    const copied = await skopeoCopy(`${fixture.mirrorHost}/docker.io/${image.name}:${image.tag}`, path.join(workDir, `b${n++}`), { all: true });
    assert.ok(copied.ok, copied.output);
    assert.equal(copied.digest, image.digest);
  }
  assert.equal(fixture.upstream.count(), 0, 'second round, other spelling, same cache: 0 upstream requests');
});
