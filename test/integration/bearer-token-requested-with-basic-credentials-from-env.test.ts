import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// A unique variable per run, so parallel test files never see each other's secrets.
const passwordEnv = `PULLTHROUGH_TEST_PASSWORD_${randomBytes(6).toString('hex').toUpperCase()}`;
const password = `pw-${randomBytes(8).toString('hex')}`;
const expectedBasic = `Basic ${Buffer.from(`alice:${password}`).toString('base64')}`;

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  process.env[passwordEnv] = password;
  upstream = await new MemoryRegistry({ tokenAuth: true, tokenCredentials: { username: 'alice', password } }).start();
  mirror = await startMirror({ hub: { url: upstream.url, defaultNamespace: 'library', username: 'alice', passwordEnv, public: true } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
  delete process.env[passwordEnv];
});

test('the token endpoint receives Basic credentials from passwordEnv; the registry itself only sees the token', async () => {
  const image = upstream.addImage('library/private', 'v1');
  const response = await fetch(`${mirror.url}/v2/private/manifests/v1`);
  assert.equal(response.status, 200, 'the token endpoint refuses anonymous requests, so 200 proves the credentials were sent');
  assert.deepEqual(Buffer.from(await response.arrayBuffer()), image.manifest.bytes);

  const tokenRequests = upstream.requests.filter((r) => r.kind === 'token');
  assert.equal(tokenRequests.length, 1);
  assert.equal(tokenRequests[0]?.authorization, expectedBasic);
  const scope = new URL(tokenRequests[0]?.path ?? '', upstream.url).searchParams.get('scope');
  assert.equal(scope, 'repository:library/private:pull');

  const registryRequests = upstream.requests.filter((r) => r.kind !== 'token');
  for (const request of registryRequests) {
    assert.ok(!request.authorization?.startsWith('Basic '), `${request.path}: the password goes only to the token endpoint`);
  }
  const authenticated = registryRequests.filter((r) => r.authorization !== undefined);
  assert.equal(authenticated.length, 1, 'one challenged GET, then one GET with the token');
  assert.match(authenticated[0]?.authorization ?? '', /^Bearer t-/);
});
