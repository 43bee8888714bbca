import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type Account, writeHtpasswdFile } from '../support/client-accounts.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { type Dockerd, startDockerd } from './support/dockerd-client.ts';
import { seedImage, type SeededImage } from './support/images.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';
import { startUpstreamRegistry, type UpstreamRegistry } from './support/upstream-registry.ts';

// The real thing: `docker login MIRROR` runs the token flow against the mirror's /token, and the pull
// that follows gets an image from an upstream the mirror reaches with its own credentials (a private
// one: only authenticated clients may have it). Before the login, the same pull is refused.

const account: Account = { username: 'deployer', password: `pw-${randomBytes(8).toString('hex')}` };
const passwordEnv = 'PULLTHROUGH_TEST_DOCKERD_UPSTREAM_PASSWORD';
let upstream: UpstreamRegistry;
let image: SeededImage;
let mirror: TestMirror;
let dockerd: Dockerd;
let dir: string;

before(async () => {
  dir = await makeTempDir('login');
  await writeHtpasswdFile(path.join(dir, 'htpasswd'), [account]);
  upstream = await startUpstreamRegistry({ auth: 'basic' });
  image = await seedImage(upstream, { name: 'team/private', tag: 'v1', kind: 'docker-v2s2' });
  process.env[passwordEnv] = upstream.credentials.password;
  mirror = await startMirror(
    { corp: { url: upstream.url, username: upstream.credentials.username, passwordEnv, tagTtl: '1h' } },
    { extra: { auth: { htpasswd: path.join(dir, 'htpasswd') } } },
  );
  dockerd = await startDockerd({ mirrorUrl: mirror.url });
});
after(async () => {
  await dockerd?.stop();
  await mirror?.close();
  await upstream?.stop();
  await removeTempDir(dir);
});

test('docker login MIRROR, then docker pull of a private upstream image through it', async () => {
  const host = new URL(mirror.url).host;
  const ref = `${host}/corp/team/private:v1`;
  const refused = await dockerd.pull(ref);
  assert.ok(!refused.ok, 'no pull before login');
  assert.match(refused.output, /unauthorized|authentication required|no basic auth credentials/i, refused.output);
  assert.equal(upstream.count({ kind: 'manifest' }), 0, 'nothing fetched for an anonymous client');

  const wrong = await dockerd.docker(['login', host, '-u', account.username, '-p', 'wrong-password']);
  assert.notEqual(wrong.code, 0, 'a wrong password is refused');
  const login = await dockerd.docker(['login', host, '-u', account.username, '-p', account.password]);
  assert.equal(login.code, 0, login.stdout + login.stderr);
  assert.match(login.stdout, /Login Succeeded/);

  const pulled = await dockerd.pull(ref);
  assert.ok(pulled.ok, pulled.output);
  assert.equal(pulled.digest, image.digest);
  assert.ok(upstream.count({ kind: 'manifest', method: 'GET', status: 200 }) >= 1, 'fetched from the private upstream with the mirror\'s credentials');
});
