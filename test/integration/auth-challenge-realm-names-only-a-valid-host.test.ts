import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { writeHtpasswdFile } from '../support/client-accounts.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { requestFrom } from '../support/request-from.ts';

// Issue 9: the 401's Bearer challenge names our /token from the request's Host header, which went in
// unescaped: a Host with quotes and commas added parameters of the client's choosing to the challenge
// (or a whole other realm). Only a plain host[:port] is used; anything else falls back to the address
// the client connected to.

let dir: string;
let upstream: MemoryRegistry;
let mirror: TestMirror;
let own: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-realm-'));
  await writeHtpasswdFile(path.join(dir, 'htpasswd'), [{ username: 'alice', password: 'secret' }]);
  upstream = await new MemoryRegistry().start();
  mirror = await startMirror({ hub: { url: upstream.url } }, { extra: { auth: { htpasswd: path.join(dir, 'htpasswd') } } });
  own = `http://127.0.0.1:${new URL(mirror.url).port}`;
});
after(async () => {
  await mirror.close();
  await upstream.stop();
  await rm(dir, { recursive: true, force: true });
});

async function challenge(host: string, url = '/v2/'): Promise<string | undefined> {
  const answer = await requestFrom(`${mirror.url}${url}`, { headers: { host } });
  assert.equal(answer.status, 401, host);
  return answer.headers['www-authenticate'] as string | undefined;
}

test('a plain host[:port] names the realm', async () => {
  assert.equal(await challenge('cache.local:5000'), 'Bearer realm="http://cache.local:5000/token",service="pullthrough"');
  assert.equal(await challenge('[::1]:5000'), 'Bearer realm="http://[::1]:5000/token",service="pullthrough"');
  assert.equal(
    await challenge('mirror.example', '/v2/team/app/manifests/v1'),
    'Bearer realm="http://mirror.example/token",service="pullthrough",scope="repository:team/app:pull"',
  );
});

test('a Host with quotes, commas or other syntax never reaches the challenge', async () => {
  for (const host of ['evil.example/token",service="other', 'a,b', 'evil.example\\', 'user@evil.example', 'evil.example/path', 'a b']) {
    assert.equal(await challenge(host), `Bearer realm="${own}/token",service="pullthrough"`, host);
  }
});
