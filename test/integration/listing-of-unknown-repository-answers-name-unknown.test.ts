import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

let plain: MemoryRegistry;
let hubLike: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  plain = await new MemoryRegistry().start();
  hubLike = await new MemoryRegistry({ tokenAuth: true, unauthorizedForUnknown: true }).start();
  mirror = await startMirror({
    plain: { url: plain.url, defaultNamespace: 'library' },
    hub: { url: hubLike.url, defaultNamespace: 'library' },
  });
});
after(async () => {
  await mirror.close();
  await plain.stop();
  await hubLike.stop();
});

async function assertNameUnknown(response: Response): Promise<void> {
  assert.equal(response.status, 404);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const text = await response.text();
  const body = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }> };
  assert.equal(body.errors?.length, 1);
  assert.equal(body.errors?.[0]?.code, 'NAME_UNKNOWN');
  assert.equal(typeof body.errors?.[0]?.message, 'string');
  assert.equal(response.headers.get('www-authenticate'), null, 'the upstream\'s auth challenge is not the mirror\'s');
}

const subject = `sha256:${'cd'.repeat(32)}`;

test('upstream 404 on tags/list and referrers → 404 NAME_UNKNOWN in the spec envelope', async () => {
  await assertNameUnknown(await fetch(`${mirror.url}/v2/plain/missing/tags/list`));
  await assertNameUnknown(await fetch(`${mirror.url}/v2/plain/missing/referrers/${subject}`));
  assert.equal(plain.count({ kind: 'tags' }), 1);
  assert.equal(plain.count({ kind: 'referrers' }), 1);
});

test('Docker Hub\'s 401 for a missing repository on tags/list → 404 NAME_UNKNOWN', async () => {
  await assertNameUnknown(await fetch(`${mirror.url}/hub/v2/missing/tags/list`));
  const listings = hubLike.requests.filter((r) => r.kind === 'tags');
  assert.equal(listings.length, 1, 'asked once, with the token');
  assert.match(listings[0]?.authorization ?? '', /^Bearer t-/);
});
