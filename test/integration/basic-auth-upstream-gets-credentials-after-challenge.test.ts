import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

const passwordEnv = `PULLTHROUGH_TEST_PASSWORD_${randomBytes(6).toString('hex').toUpperCase()}`;
const password = `pw-${randomBytes(8).toString('hex')}`;
const expectedBasic = `Basic ${Buffer.from(`bob:${password}`).toString('base64')}`;

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  process.env[passwordEnv] = password;
  upstream = await new MemoryRegistry({ basicAuth: { username: 'bob', password } }).start();
  mirror = await startMirror({ internal: { url: upstream.url, username: 'bob', passwordEnv, public: true } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
  delete process.env[passwordEnv];
});

test('after a Basic challenge the mirror sends Basic credentials, and keeps sending them up front', async () => {
  const image = upstream.addImage('team/app', '1.0');
  const manifest = await fetch(`${mirror.url}/v2/team/app/manifests/1.0`);
  assert.equal(manifest.status, 200);
  assert.deepEqual(Buffer.from(await manifest.arrayBuffer()), image.manifest.bytes);
  const manifestGets = upstream.requests.filter((r) => r.kind === 'manifest');
  assert.deepEqual(
    manifestGets.map((r) => r.authorization),
    [undefined, expectedBasic],
    'the first GET is challenged, the retry carries the credentials',
  );

  upstream.resetCounts();
  for (const digest of [image.config, image.layer]) {
    const blob = await fetch(`${mirror.url}/v2/team/app/blobs/${digest}`);
    assert.equal(blob.status, 200);
    assert.equal(blob.headers.get('docker-content-digest'), digest);
    await blob.arrayBuffer();
  }
  assert.deepEqual(
    upstream.requests.map((r) => [r.kind, r.authorization]),
    [['blob', expectedBasic], ['blob', expectedBasic]],
    'the challenge is remembered: no 401 round trip and no token request',
  );
});
