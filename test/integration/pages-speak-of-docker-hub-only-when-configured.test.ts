import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 12: a mirror of ghcr.io and quay.io showed a "Docker Hub quota" card and setup pages titled
// "pull Docker Hub images" with `docker pull alpine`. The pages follow the configured upstreams: Docker
// Hub, its quota and daemon.json's registry-mirrors only where a Docker Hub upstream is configured.

const run = promisify(execFile);
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function mirror(...args: Parameters<typeof startMirror>): Promise<TestMirror> {
  const started = await startMirror(...args);
  cleanups.push(() => started.close());
  return started;
}

const HOST = { host: 'cache.example:5000' };
const PAGES = ['/setup/docker', '/setup/containerd', '/setup/podman'];
const SCRIPTS = ['/setup/docker.sh', '/setup/containerd.sh', '/setup/podman.sh'];

test('without a Docker Hub upstream: no quota card, and no page or script speaks of Docker Hub', async () => {
  const { app } = await mirror({
    ghcr: { url: 'https://ghcr.io', aliases: ['ghcr.io'] },
    quay: { url: 'https://quay.io', aliases: ['quay.io'] },
  });
  const status = await app.inject({ url: '/', headers: HOST });
  assert.equal(status.statusCode, 200);
  assert.doesNotMatch(status.body, /data-metric="quota-remaining"/);
  assert.doesNotMatch(status.body, /Docker Hub|quota/i);

  for (const url of [...PAGES, ...SCRIPTS]) {
    const response = await app.inject({ url, headers: HOST });
    assert.equal(response.statusCode, 200, url);
    assert.doesNotMatch(response.body, /Docker Hub|docker\.io|alpine/i, url);
  }
  const docker = await app.inject({ url: '/setup/docker', headers: HOST });
  assert.match(docker.body, /<h2>Docker: pull ghcr\.io and quay\.io images through this mirror<\/h2>/);
  assert.doesNotMatch(docker.body, /registry-mirrors/);
  // The default upstream (the first) with an image it has, through the mirror's rewritten names.
  assert.match(docker.body, /docker pull cache\.example:5000\/ghcr\/actions\/actions-runner:latest\n/);
  assert.match(docker.body, /docker pull cache\.example:5000\/quay\/prometheus\/prometheus:latest\n/);
  // Plain HTTP: dockerd still needs insecure-registries for those names, and nothing else.
  assert.match(docker.body, /&#34;insecure-registries&#34;: \[\s*&#34;cache\.example:5000&#34;/);
  assert.match((await app.inject({ url: '/setup/containerd', headers: HOST })).body, /nerdctl pull ghcr\.io\/actions\/actions-runner:latest/);
  assert.match((await app.inject({ url: '/setup/podman', headers: HOST })).body, /podman pull ghcr\.io\/actions\/actions-runner:latest/);
});

test('without a Docker Hub upstream, docker.sh adds only insecure-registries (registry-mirrors would send docker.io names to ghcr)', async () => {
  const { app } = await mirror({ ghcr: { url: 'https://ghcr.io', aliases: ['ghcr.io'] } });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-docker-nohub-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const script = path.join(dir, 'docker.sh');
  await writeFile(script, (await app.inject({ url: '/setup/docker.sh', headers: HOST })).body);
  const file = path.join(dir, 'daemon.json');
  await writeFile(file, JSON.stringify({ 'registry-mirrors': ['https://other.example'] }));
  const { stdout } = await run('/bin/sh', [script], { env: { ...process.env, DOCKER_DAEMON_JSON: file } });
  assert.match(stdout, /added cache\.example:5000 to "insecure-registries"/);
  assert.doesNotMatch(stdout, /to "registry-mirrors"/);
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { 'registry-mirrors': ['https://other.example'], 'insecure-registries': ['cache.example:5000'] });

});

test('without a Docker Hub upstream, behind HTTPS, docker.sh changes nothing and says how to pull', async () => {
  const { app } = await mirror({ ghcr: { url: 'https://ghcr.io', aliases: ['ghcr.io'] } }, { extra: { trustProxy: true } });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-docker-nohub-https-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const headers = { host: 'internal:5000', 'x-forwarded-host': 'cache.example.com', 'x-forwarded-proto': 'https' };
  const page = await app.inject({ url: '/setup/docker', headers });
  assert.match(page.body, /dockerd needs no configuration/);
  assert.doesNotMatch(page.body, /daemon\.json|registry-mirrors|insecure-registries/);
  const script = path.join(dir, 'docker.sh');
  await writeFile(script, (await app.inject({ url: '/setup/docker.sh', headers })).body);
  const file = path.join(dir, 'daemon.json');
  await writeFile(file, '{"log-driver": "journald"}');
  const { stdout } = await run('/bin/sh', [script], { env: { ...process.env, DOCKER_DAEMON_JSON: file } });
  assert.match(stdout, /dockerd needs no change for https:\/\/cache\.example\.com: pull with rewritten names, e\.g\. docker pull cache\.example\.com\/<upstream>\/<image>; nothing changed/);
  assert.equal(await readFile(file, 'utf8'), '{"log-driver": "journald"}');
});

test('a non-Docker Hub upstream that sends rate-limit headers gets its own quota card', async () => {
  const ghcr = await new MemoryRegistry({ rateLimit: { limit: 500, remaining: 499 } }).start();
  cleanups.push(() => ghcr.stop());
  ghcr.addImage('acme/api', 'v1', 1000);
  const { app, url } = await mirror({ ghcr: { url: ghcr.url, aliases: ['ghcr.io'] } });
  const pulled = await fetch(`${url}/v2/acme/api/manifests/v1`);
  assert.equal(pulled.status, 200);
  await pulled.arrayBuffer();
  const status = await app.inject({ url: '/' });
  assert.match(status.body, /<div class="card" data-upstream="ghcr"><h2>ghcr quota left<\/h2><div class="big" data-metric="quota-remaining" data-value="499">499 \/ 500</);
  assert.doesNotMatch(status.body, /Docker Hub/);
});

test('with a Docker Hub upstream: the quota card, registry-mirrors and docker pull alpine are still there', async () => {
  const { app } = await mirror({
    dockerhub: { url: 'https://registry-1.docker.io', aliases: ['docker.io'], defaultNamespace: 'library' },
    ghcr: { url: 'https://ghcr.io', aliases: ['ghcr.io'] },
  });
  const status = await app.inject({ url: '/', headers: HOST });
  assert.match(status.body, /<h2>Docker Hub quota left<\/h2><div class="big" data-metric="quota-remaining" data-value="">—</);
  assert.match(status.body, /not reported yet: Docker Hub sends it/);

  const docker = await app.inject({ url: '/setup/docker', headers: HOST });
  assert.match(docker.body, /<h2>Docker: pull Docker Hub images through this mirror<\/h2>/);
  assert.match(docker.body, /&#34;registry-mirrors&#34;: \[\s*&#34;http:\/\/cache\.example:5000&#34;/);
  assert.match(docker.body, /\ndocker pull alpine:3\.20<\/code>/);
  assert.match(docker.body, /docker pull cache\.example:5000\/dockerhub\/library\/alpine:3\.20\n/);
  assert.match(docker.body, /docker pull cache\.example:5000\/ghcr\/actions\/actions-runner:latest\n/);
  const script = await app.inject({ url: '/setup/docker.sh', headers: HOST });
  assert.match(script.body, /^# pullthrough: make dockerd pull Docker Hub images through the mirror at http:\/\/cache\.example:5000$/m);
  assert.match(script.body, /^MIRROR='http:\/\/cache\.example:5000'$/m);
  assert.match((await app.inject({ url: '/setup/containerd', headers: HOST })).body, /nerdctl pull docker\.io\/library\/alpine:3\.20/);
});

test('with Docker Hub configured but another default upstream, registry-mirrors is not offered and the page says why', async () => {
  const { app } = await mirror({
    ghcr: { url: 'https://ghcr.io', aliases: ['ghcr.io'] },
    dockerhub: { url: 'https://registry-1.docker.io', aliases: ['docker.io'] },
  }, { defaultUpstream: 'ghcr' });
  const docker = await app.inject({ url: '/setup/docker', headers: HOST });
  assert.match(docker.body, /<h2>Docker: pull ghcr\.io and Docker Hub images through this mirror<\/h2>/);
  assert.match(docker.body, /default upstream is <code>ghcr<\/code>, not Docker Hub/);
  assert.doesNotMatch(docker.body, /&#34;registry-mirrors&#34;/);
  assert.match((await app.inject({ url: '/setup/docker.sh', headers: HOST })).body, /^MIRROR=''$/m);
});
