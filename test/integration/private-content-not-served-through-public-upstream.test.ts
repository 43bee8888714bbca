import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Keyv from 'keyv';
import { type Account, basic, writeHtpasswdFile } from '../support/client-accounts.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9, finding 12: content fetched from a private upstream (credentials, not `public: true`) is not
// handed out by digest through a public upstream's route to a client that may not pull from the private
// one — neither by the mirror that fetched it nor by another mirror on the same storage and metadata
// whose config has no client auth or does not know that upstream. The public upstream is asked (HEAD,
// which costs no pull) whether it has the digest; it answers 404 → BLOB_UNKNOWN / MANIFEST_UNKNOWN.

const passwordEnv = 'PULLTHROUGH_TEST_PROVENANCE_PASSWORD';
const carol: Account = { username: 'carol', password: 'carol-pw' };
let dir: string;
let corp: MemoryRegistry;
let pub: MemoryRegistry;
const keyv = new Keyv();
const mirrors: TestMirror[] = [];

before(async () => {
  process.env[passwordEnv] = 'upstream-secret';
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-provenance-'));
  await writeHtpasswdFile(path.join(dir, 'htpasswd'), [carol]);
  corp = await new MemoryRegistry({ basicAuth: { username: 'svc', password: 'upstream-secret' } }).start();
  pub = await new MemoryRegistry().start();
});
after(async () => {
  for (const mirror of mirrors) await mirror.close({ keepStorage: true });
  await rm(dir, { recursive: true, force: true });
  await corp.stop();
  await pub.stop();
});

async function errorCode(answer: Response): Promise<string | undefined> {
  return ((await answer.json()) as { errors: Array<{ code: string }> }).errors[0]?.code;
}

test('private content is served through a public route only to clients that may pull from its origin', async () => {
  const storage = path.join(dir, 'store');
  const corpConfig = { url: corp.url, username: 'svc', passwordEnv };
  const first = await startMirror(
    { pub: { url: pub.url }, corp: corpConfig },
    { storage, keyv, extra: { auth: { htpasswd: path.join(dir, 'htpasswd') } } },
  );
  mirrors.push(first);
  const image = corp.addImage('secret/app', 'v1');
  pub.tags.set('secret/app', new Map());
  const asCarol = { headers: { authorization: basic(carol) } };
  assert.equal((await fetch(`${first.url}/corp/v2/secret/app/manifests/v1`, asCarol)).status, 200);
  const fetched = await fetch(`${first.url}/corp/v2/secret/app/blobs/${image.layer}`, asCarol);
  assert.equal(fetched.status, 200);
  await fetched.arrayBuffer();
  await first.app.mirror.fills.drain();

  // The same mirror: strangers get nothing; carol, who may pull from corp, gets it through any route
  // without the public upstream being asked.
  const stranger = await fetch(`${first.url}/pub/v2/secret/app/blobs/${image.layer}`);
  assert.notEqual(stranger.status, 200);
  await stranger.arrayBuffer();
  const carolThroughPub = await fetch(`${first.url}/pub/v2/secret/app/blobs/${image.layer}`, asCarol);
  assert.equal(carolThroughPub.status, 200);
  assert.deepEqual(Buffer.from(await carolThroughPub.arrayBuffer()), corp.blobs.get(image.layer));
  assert.equal(pub.requests.length, 0);

  // Other mirrors on the same storage and metadata: one without client auth (and without corp), one
  // that still has corp's credentials but no client auth.
  // negativeTtl 0: each mirror must ask the public upstream itself here, not read the other's remembered 404 (issue 13).
  const pubConfig = { url: pub.url, negativeTtl: 0 };
  const noCorp = await startMirror({ pub: pubConfig }, { storage, keyv });
  mirrors.push(noCorp);
  const noAuth = await startMirror({ pub: pubConfig, corp: corpConfig }, { storage, keyv, defaultUpstream: 'pub' });
  mirrors.push(noAuth);
  for (const mirror of [noCorp, noAuth]) {
    pub.resetCounts();
    const blob = await fetch(`${mirror.url}/v2/secret/app/blobs/${image.layer}`);
    assert.equal(blob.status, 404);
    assert.equal(await errorCode(blob), 'BLOB_UNKNOWN');
    const blobHead = await fetch(`${mirror.url}/v2/secret/app/blobs/${image.layer}`, { method: 'HEAD' });
    assert.equal(blobHead.status, 404);
    const manifest = await fetch(`${mirror.url}/v2/secret/app/manifests/${image.digest}`);
    assert.equal(manifest.status, 404);
    assert.equal(await errorCode(manifest), 'MANIFEST_UNKNOWN');
    assert.equal(pub.count({ method: 'HEAD', kind: 'blob' }), 2, 'the public upstream was asked whether it has the blob');
    assert.equal(pub.count({ method: 'GET', kind: 'blob' }), 0);
    assert.ok(pub.count({ kind: 'manifest' }) >= 1, 'and the manifest');
  }
  const denied = await fetch(`${noAuth.url}/corp/v2/secret/app/blobs/${image.layer}`);
  assert.equal(denied.status, 403);
  await denied.arrayBuffer();

  // Once the public upstream has the same bytes, it confirms them (HEAD) and the kept copy is served;
  // from then on it is one of the digest's origins and is not asked again.
  pub.addBlob(corp.blobs.get(image.layer) ?? assert.fail());
  pub.resetCounts();
  const confirmed = await fetch(`${noCorp.url}/v2/secret/app/blobs/${image.layer}`);
  assert.equal(confirmed.status, 200);
  assert.deepEqual(Buffer.from(await confirmed.arrayBuffer()), corp.blobs.get(image.layer));
  assert.equal(pub.count({ method: 'HEAD', kind: 'blob' }), 1);
  assert.equal(pub.count({ method: 'GET', kind: 'blob' }), 0, 'served from the store');
  pub.resetCounts();
  for (const mirror of [noCorp, noAuth]) {
    const again = await fetch(`${mirror.url}/v2/secret/app/blobs/${image.layer}`);
    assert.equal(again.status, 200);
    await again.arrayBuffer();
  }
  assert.equal(pub.requests.length, 0);
});
