import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { OCI_INDEX } from '../../src/manifest-media-types.ts';
import { BaitServer } from '../support/bait-server.ts';
import { HostileRegistry } from '../support/hostile-registry.ts';
import { manifestCopyWithContentType } from '../support/hostile/manifest-copy-with-bogus-content-type.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9, finding 3: media types are recorded per (upstream, digest). A second upstream serving a
// byte-identical copy of a real manifest under another type — text/html (refused outright) or a wrong
// but known manifest type (kept for its own route only) — never changes how the first upstream's route
// serves that digest.

let bait: BaitServer;
let honest: MemoryRegistry;
const hostiles: HostileRegistry[] = [];
let mirror: TestMirror;

before(async () => {
  bait = await new BaitServer().start();
  honest = await new MemoryRegistry().start();
  for (const type of ['text/html', OCI_INDEX]) hostiles.push(await new HostileRegistry(manifestCopyWithContentType(type), bait).start());
  const [html, wrong] = hostiles as [HostileRegistry, HostileRegistry];
  mirror = await startMirror(
    { good: { url: honest.url, tagTtl: '1h' }, html: { url: html.url, tagTtl: '1h' }, wrong: { url: wrong.url, tagTtl: '1h' } },
    { defaultUpstream: 'good' },
  );
});
after(async () => {
  await mirror.close();
  for (const hostile of hostiles) await hostile.stop();
  await honest.stop();
  await bait.stop();
});

test("a copy of a manifest served with another content type does not change the first upstream's answers", async () => {
  const image = honest.addImage('team/app', 'v1');
  for (const hostile of hostiles) hostile.honest.putManifest('team/app', 'v1', image.manifest.mediaType, image.manifest.bytes);
  const good = await fetch(`${mirror.url}/good/v2/team/app/manifests/v1`);
  assert.equal(good.status, 200);
  assert.equal(good.headers.get('content-type'), image.manifest.mediaType);
  await good.arrayBuffer();

  const html = await fetch(`${mirror.url}/html/v2/team/app/manifests/v1`);
  assert.notEqual(html.status, 200, 'text/html is not a manifest type');
  assert.doesNotMatch(html.headers.get('content-type') ?? '', /html/);
  await html.arrayBuffer();
  const htmlByDigest = await fetch(`${mirror.url}/html/v2/team/app/manifests/${image.digest}`);
  assert.notEqual(htmlByDigest.status, 200, 'nor served from the copy kept through the honest upstream');
  assert.doesNotMatch(htmlByDigest.headers.get('content-type') ?? '', /html/);
  await htmlByDigest.arrayBuffer();

  const wrong = await fetch(`${mirror.url}/wrong/v2/team/app/manifests/v1`);
  assert.equal(wrong.status, 200);
  assert.equal(wrong.headers.get('content-type'), OCI_INDEX, 'its own route gets its own (wrong) answer');
  await wrong.arrayBuffer();

  honest.resetCounts();
  for (const reference of ['v1', image.digest]) {
    for (const method of ['GET', 'HEAD']) {
      const again = await fetch(`${mirror.url}/good/v2/team/app/manifests/${reference}`, { method });
      assert.equal(again.status, 200, `${method} ${reference}`);
      assert.equal(again.headers.get('content-type'), image.manifest.mediaType, `${method} ${reference}`);
      if (method === 'GET') assert.deepEqual(Buffer.from(await again.arrayBuffer()), image.manifest.bytes);
      else await again.arrayBuffer();
    }
  }
  assert.equal(honest.requests.length, 0, 'all from the cache');
});
