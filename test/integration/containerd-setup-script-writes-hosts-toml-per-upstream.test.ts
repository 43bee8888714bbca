import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { startMirror, type TestMirror } from '../support/mirror.ts';

const run = promisify(execFile);
let mirror: TestMirror;
let dir: string;
let script: string;

before(async () => {
  // Upstreams are never contacted here; only their hosts and aliases matter.
  mirror = await startMirror({
    dockerhub: { url: 'https://registry-1.docker.io', aliases: ['docker.io', 'index.docker.io'], defaultNamespace: 'library' },
    ghcr: { url: 'https://ghcr.io', aliases: ['ghcr.io'] },
    k8s: { url: 'https://registry.k8s.io', aliases: ['k8s.gcr.io'] },
  });
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-containerd-setup-'));
  script = path.join(dir, 'containerd.sh');
  const response = await mirror.app.inject({ url: '/setup/containerd.sh', headers: { host: 'cache.example:5000' } });
  assert.equal(response.statusCode, 200);
  await writeFile(script, response.body);
});
after(async () => {
  await mirror.close();
  await rm(dir, { recursive: true, force: true });
});

const EXPECTED: Record<string, { upstream: string; server: string }> = {
  'docker.io': { upstream: 'dockerhub', server: 'https://registry-1.docker.io' },
  'index.docker.io': { upstream: 'dockerhub', server: 'https://registry-1.docker.io' },
  'registry-1.docker.io': { upstream: 'dockerhub', server: 'https://registry-1.docker.io' },
  'ghcr.io': { upstream: 'ghcr', server: 'https://ghcr.io' },
  'registry.k8s.io': { upstream: 'k8s', server: 'https://registry.k8s.io' },
  'k8s.gcr.io': { upstream: 'k8s', server: 'https://registry.k8s.io' },
};

async function runScript(certsD: string): Promise<string> {
  const { stdout, stderr } = await run('/bin/sh', [script], { env: { PATH: process.env.PATH, CONTAINERD_CERTS_D: certsD, CONTAINERD_CONFIG: path.join(dir, 'none.toml') } });
  return stdout + stderr;
}

test('one hosts.toml per registry host of every upstream, each routed by the upstream name as a path', async () => {
  const certsD = path.join(dir, 'certs.d');
  const out = await runScript(certsD);
  assert.match(out, /6 hosts\.toml written, 0 already up to date/);
  assert.match(out, /config_path/, 'tells how to point containerd at the directory');
  assert.deepEqual((await readdir(certsD)).sort(), Object.keys(EXPECTED).sort());
  for (const [host, { upstream, server }] of Object.entries(EXPECTED)) {
    const toml = await readFile(path.join(certsD, host, 'hosts.toml'), 'utf8');
    assert.match(toml, new RegExp(`^server = "${server.replace(/\./g, '\\.')}"$`, 'm'), host);
    assert.match(toml, new RegExp(`^\\[host\\."http://cache\\.example:5000/${upstream}"\\]$`, 'm'), host);
    assert.match(toml, /^ {2}capabilities = \["pull", "resolve"\]$/m, host);
    // The mirror must route that path prefix to the same upstream.
    assert.equal(mirror.app.mirror.router.route('x/y', { prefix: upstream }).upstream.name, upstream);
  }

  const again = await runScript(certsD);
  assert.match(again, /0 hosts\.toml written, 6 already up to date/);
});

test('a hosts.toml the script did not write is kept as a backup before being replaced', async () => {
  const certsD = path.join(dir, 'certs-existing.d');
  await mkdir(path.join(certsD, 'ghcr.io'), { recursive: true });
  await writeFile(path.join(certsD, 'ghcr.io', 'hosts.toml'), 'server = "https://ghcr.io"\n[host."https://my-own-mirror"]\n');
  const out = await runScript(certsD);
  assert.match(out, /ghcr\.io\/hosts\.toml is kept as .*hosts\.toml\.pullthrough\.bak/);
  assert.match(await readFile(path.join(certsD, 'ghcr.io', 'hosts.toml.pullthrough.bak'), 'utf8'), /my-own-mirror/);
  assert.match(await readFile(path.join(certsD, 'ghcr.io', 'hosts.toml'), 'utf8'), /cache\.example:5000\/ghcr/);
});
