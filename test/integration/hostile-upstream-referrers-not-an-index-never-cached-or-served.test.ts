import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BaitServer } from '../support/bait-server.ts';
import { HostileRegistry } from '../support/hostile-registry.ts';
import { ATTACKS, referrersAttack, referrersNotAnIndex } from '../support/hostile/referrers-not-an-index.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { addReferrerArtifact, COSIGN_SIGNATURE, OCI_INDEX, type ReferrersIndex } from '../support/referrer-artifacts.ts';

// Issue 13 item 3: a referrers answer is cached and served only once it is verified to be an OCI image
// index (JSON, schemaVersion 2, a manifests array of descriptors, at most 4 MiB, an index or JSON type).
// Anything else is neither served nor cached: with nothing cached it is UNAVAILABLE, and the next
// request asks again; with an earlier good answer, that one is served stale instead.

let bait: BaitServer;
let hostile: HostileRegistry;
let mirror: TestMirror;
let subject: string;
let signature: string;

before(async () => {
  bait = await new BaitServer().start();
  hostile = await new HostileRegistry(referrersNotAnIndex, bait).start();
  const image = hostile.honest.addImage('evil/app', 'v1');
  subject = image.digest;
  signature = addReferrerArtifact(hostile.honest, 'evil/app', { digest: image.digest, size: image.manifest.bytes.length }, COSIGN_SIGNATURE).digest;
  mirror = await startMirror({ bad: { url: hostile.url, tagTtl: '40ms' } });
});
after(async () => {
  referrersAttack.mode = 'honest';
  await mirror.close();
  await hostile.stop();
  await bait.stop();
});

const referrerRequests = (): number => hostile.requests.filter((r) => r.path.includes('/referrers/')).length;

async function assertRefused(response: Response, what: string): Promise<void> {
  const body = await response.text();
  assert.equal(response.status, 503, `${what}: ${body.slice(0, 200)}`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/, `${what}: the error envelope`);
  assert.ok(!body.includes('script') && !body.includes('x-evil') && body.length < 1000, `${what}: nothing of the answer passed on`);
}

test('with nothing cached, an answer that is not an index is refused and not cached', async () => {
  for (const attack of ATTACKS) {
    referrersAttack.mode = attack;
    const path = `${mirror.url}/v2/evil/app/referrers/${subject}?artifactType=${encodeURIComponent(`application/x-${attack}`)}`;
    for (const method of ['GET', 'HEAD']) {
      const response = await fetch(path, { method });
      if (method === 'GET') await assertRefused(response, attack);
      else assert.equal(response.status, 503, `HEAD ${attack}`);
    }
    // Not remembered: the next request goes upstream again, and an honest answer is then served.
    referrersAttack.mode = 'honest';
    const before = referrerRequests();
    const honest = await fetch(`${mirror.url}/v2/evil/app/referrers/${subject}`);
    assert.equal(honest.status, 200);
    assert.equal(honest.headers.get('content-type'), OCI_INDEX);
    assert.ok(referrerRequests() <= before + 1);
    const listed = await fetch(path);
    assert.equal(listed.status, 200, `${attack}: the filtered listing asked again`);
    assert.deepEqual(((await listed.json()) as ReferrersIndex).manifests, [], `${attack}: the honest (empty) answer, not the attack`);
  }
  assert.equal(bait.hits.length, 0);
});

test('after a good answer, an attack at revalidation serves the good one stale, never the attack', async () => {
  referrersAttack.mode = 'honest';
  const path = `${mirror.url}/v2/evil/app/referrers/${subject}?artifactType=${encodeURIComponent(COSIGN_SIGNATURE)}`;
  const good = await fetch(path);
  assert.equal(good.status, 200);
  const goodBody = await good.text();
  for (const attack of ATTACKS) {
    await new Promise((resolve) => setTimeout(resolve, 60));
    referrersAttack.mode = attack;
    const before = referrerRequests();
    const response = await fetch(path);
    assert.equal(response.status, 200, attack);
    assert.equal(response.headers.get('content-type'), OCI_INDEX, attack);
    assert.equal(await response.text(), goodBody, attack);
    assert.equal(referrerRequests(), before + 1, `${attack}: the upstream was asked`);
  }
  referrersAttack.mode = 'honest';
  const index = (await (await fetch(path)).json()) as ReferrersIndex;
  assert.deepEqual(index.manifests.map((m) => m.digest), [signature]);
});
