import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type Account, basic, writeHtpasswdFile } from '../support/client-accounts.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// With client auth configured, a private upstream's content goes to authenticated clients: a stranger
// gets the 401 challenge (and causes no upstream request); an account gets the image.

const passwordEnv = 'PULLTHROUGH_TEST_PRIVATE_PASSWORD_2';
const carol: Account = { username: 'carol', password: 'carol-pw' };
let dir: string;
let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  process.env[passwordEnv] = 'upstream-secret';
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-private-'));
  await writeHtpasswdFile(path.join(dir, 'htpasswd'), [carol]);
  upstream = await new MemoryRegistry({ basicAuth: { username: 'svc', password: 'upstream-secret' } }).start();
  mirror = await startMirror({ corp: { url: upstream.url, username: 'svc', passwordEnv } }, { extra: { auth: { htpasswd: path.join(dir, 'htpasswd') } } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
  await rm(dir, { recursive: true, force: true });
});

test('strangers get 401 and cost no upstream request; an authenticated client gets the private image', async () => {
  const image = upstream.addImage('secret/app', 'v1');
  const stranger = await fetch(`${mirror.url}/v2/secret/app/manifests/v1`);
  assert.equal(stranger.status, 401);
  assert.match(stranger.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
  await stranger.arrayBuffer();
  assert.equal(upstream.requests.length, 0);

  const manifest = await fetch(`${mirror.url}/v2/secret/app/manifests/v1`, { headers: { authorization: basic(carol) } });
  assert.equal(manifest.status, 200);
  assert.equal(manifest.headers.get('docker-content-digest'), image.digest);
  const blob = await fetch(`${mirror.url}/v2/secret/app/blobs/${image.layer}`, { headers: { authorization: basic(carol) } });
  assert.deepEqual(Buffer.from(await blob.arrayBuffer()), upstream.blobs.get(image.layer));

  const keptButStranger = await fetch(`${mirror.url}/v2/secret/app/blobs/${image.layer}`);
  assert.equal(keptButStranger.status, 401, 'kept content is not handed to strangers either');
  await keptButStranger.arrayBuffer();
});
