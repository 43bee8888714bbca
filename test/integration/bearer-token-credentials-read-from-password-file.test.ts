import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

const password = `pw-${randomBytes(8).toString('hex')}`;

let secrets: string;
let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  secrets = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-secret-'));
  const passwordFile = path.join(secrets, 'hub-password');
  // A mounted secret usually ends with a newline; it is not part of the password.
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  upstream = await new MemoryRegistry({ tokenAuth: true, tokenCredentials: { username: 'carol', password } }).start();
  mirror = await startMirror({ hub: { url: upstream.url, defaultNamespace: 'library', username: 'carol', passwordFile, public: true } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
  await rm(secrets, { recursive: true, force: true });
});

test('the token endpoint receives Basic credentials read from passwordFile', async () => {
  const image = upstream.addImage('library/secretive', 'latest');
  const response = await fetch(`${mirror.url}/v2/secretive/manifests/latest`);
  assert.equal(response.status, 200);
  assert.deepEqual(Buffer.from(await response.arrayBuffer()), image.manifest.bytes);
  const tokenRequests = upstream.requests.filter((r) => r.kind === 'token');
  assert.equal(tokenRequests.length, 1);
  assert.equal(tokenRequests[0]?.authorization, `Basic ${Buffer.from(`carol:${password}`).toString('base64')}`);
});
