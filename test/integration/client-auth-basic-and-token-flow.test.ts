import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type Account, basic, writeHtpasswdFile } from '../support/client-accounts.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// With `auth` configured, the mirror is closed to strangers: the spec's 401 with a Bearer challenge that
// names its own /token, which trades Basic credentials (GET, as docker login does, or containerd's
// OAuth2 password POST) for a short-lived token the API accepts. Health probes stay open.

const alice: Account = { username: 'alice', password: `pw-${randomBytes(6).toString('hex')}` };
let dir: string;
let upstream: MemoryRegistry;
let mirror: TestMirror;
let image: ReturnType<MemoryRegistry['addImage']>;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-auth-'));
  await writeHtpasswdFile(path.join(dir, 'htpasswd'), [alice, { username: 'bob', password: 'other' }]);
  upstream = await new MemoryRegistry().start();
  image = upstream.addImage('team/app', 'v1');
  mirror = await startMirror({ hub: { url: upstream.url } }, { extra: { auth: { htpasswd: path.join(dir, 'htpasswd'), tokenTtl: '2m' } } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
  await rm(dir, { recursive: true, force: true });
});

async function errorCode(response: Response): Promise<string | undefined> {
  return ((await response.json()) as { errors: Array<{ code: string }> }).errors[0]?.code;
}

test('anonymous requests get 401 UNAUTHORIZED with a Bearer challenge naming /token, service and scope', async () => {
  const ping = await fetch(`${mirror.url}/v2/`);
  assert.equal(ping.status, 401);
  assert.equal(await errorCode(ping), 'UNAUTHORIZED');
  assert.equal(ping.headers.get('www-authenticate'), `Bearer realm="${mirror.url}/token",service="pullthrough"`);

  const manifest = await fetch(`${mirror.url}/v2/team/app/manifests/v1`);
  assert.equal(manifest.status, 401);
  assert.equal(manifest.headers.get('www-authenticate'), `Bearer realm="${mirror.url}/token",service="pullthrough",scope="repository:team/app:pull"`);
  await manifest.arrayBuffer();
  assert.equal(upstream.requests.length, 0, 'nothing was fetched for a stranger');
});

test('GET /token trades Basic credentials for a token the API accepts; wrong ones get none', async () => {
  assert.equal((await fetch(`${mirror.url}/token?service=pullthrough`)).status, 401);
  const wrong = await fetch(`${mirror.url}/token?service=pullthrough`, { headers: { authorization: basic({ ...alice, password: 'nope' }) } });
  assert.equal(wrong.status, 401);
  const unknownUser = await fetch(`${mirror.url}/token`, { headers: { authorization: basic({ username: 'mallory', password: alice.password }) } });
  assert.equal(unknownUser.status, 401);

  const issued = await fetch(`${mirror.url}/token?service=pullthrough&scope=repository:team/app:pull`, { headers: { authorization: basic(alice) } });
  assert.equal(issued.status, 200);
  const body = (await issued.json()) as { token: string; access_token: string; expires_in: number; issued_at: string };
  assert.equal(body.token, body.access_token);
  assert.equal(body.expires_in, 120);
  assert.ok(Date.parse(body.issued_at) > Date.now() - 60_000);

  const manifest = await fetch(`${mirror.url}/v2/team/app/manifests/v1`, { headers: { authorization: `Bearer ${body.token}` } });
  assert.equal(manifest.status, 200);
  assert.equal(manifest.headers.get('docker-content-digest'), image.digest);
  const tampered = `${body.token.slice(0, -2)}${body.token.endsWith('A') ? 'B' : 'A'}A`;
  assert.equal((await fetch(`${mirror.url}/v2/`, { headers: { authorization: `Bearer ${tampered}` } })).status, 401);
});

test('an expired token or one signed for another service is refused', async () => {
  const auth = mirror.app.clientAuth;
  assert.ok(auth);
  const expired = auth.signer.issue('alice', 'pullthrough', 60_000, Date.now() - 3_600_000).token;
  assert.equal((await fetch(`${mirror.url}/v2/`, { headers: { authorization: `Bearer ${expired}` } })).status, 401);
  const otherService = auth.signer.issue('alice', 'elsewhere', 60_000).token;
  assert.equal((await fetch(`${mirror.url}/v2/`, { headers: { authorization: `Bearer ${otherService}` } })).status, 401);
});

test("POST /token with containerd's OAuth2 password grant issues a token too", async () => {
  const form = new URLSearchParams({ grant_type: 'password', username: 'alice', password: alice.password, service: 'pullthrough', client_id: 'containerd' });
  const issued = await fetch(`${mirror.url}/token`, { method: 'POST', body: form });
  assert.equal(issued.status, 200);
  const { access_token: token } = (await issued.json()) as { access_token: string };
  assert.equal((await fetch(`${mirror.url}/v2/`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  const wrong = await fetch(`${mirror.url}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'password', username: 'alice', password: 'x' }) });
  assert.equal(wrong.status, 401);
});

test('Basic credentials on each request work as well', async () => {
  const blob = await fetch(`${mirror.url}/v2/team/app/blobs/${image.layer}`, { headers: { authorization: basic(alice) } });
  assert.equal(blob.status, 200);
  assert.deepEqual(Buffer.from(await blob.arrayBuffer()), upstream.blobs.get(image.layer));
  assert.equal((await fetch(`${mirror.url}/v2/`, { headers: { authorization: basic({ username: 'bob', password: 'wrong' }) } })).status, 401);
});

test('health probes are open; the status page, /metrics and setup pages need credentials', async () => {
  assert.equal((await fetch(`${mirror.url}/healthz`)).status, 200);
  assert.equal((await fetch(`${mirror.url}/readyz`)).status, 200);
  for (const page of ['/', '/metrics', '/setup/docker']) {
    const anonymous = await fetch(`${mirror.url}${page}`);
    assert.equal(anonymous.status, 401, page);
    await anonymous.arrayBuffer();
    const authed = await fetch(`${mirror.url}${page}`, { headers: { authorization: basic(alice) } });
    assert.equal(authed.status, 200, page);
    await authed.arrayBuffer();
  }
});
