import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { scrape, sumOf } from '../support/prometheus-text.ts';
import { type Containerd, startContainerd } from './support/containerd-client.ts';
import { type MirrorFixture, startMirrorFixture } from './support/mirror-fixture.ts';
import { runCommand } from './support/run-command.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';

// What /setup/containerd.sh writes is what containerd reads: run the script into a temp certs.d, then
// pull with ctr --hosts-dir pointing at it, and check the pull went through the mirror.

let fixture: MirrorFixture;
let containerd: Containerd;
let dir: string;

before(async () => {
  fixture = await startMirrorFixture({ namePrefix: 'setupctrd' });
  containerd = await startContainerd();
  dir = await makeTempDir('setup');
});
after(async () => {
  await containerd?.stop();
  await fixture?.stop();
  if (dir) await removeTempDir(dir);
});

test('containerd pulls through the hosts.toml files the setup script wrote', async () => {
  const script = join(dir, 'containerd.sh');
  await writeFile(script, await (await fetch(`${fixture.mirror.url}/setup/containerd.sh`)).text());
  const certsD = join(dir, 'certs.d');
  const ran = await runCommand('/bin/sh', [script], { env: { ...process.env, CONTAINERD_CERTS_D: certsD, CONTAINERD_CONFIG: join(dir, 'none.toml') }, timeoutMs: 30_000 });
  assert.equal(ran.code, 0, ran.stdout + ran.stderr);
  assert.match(ran.stdout, /wrote .*docker\.io\/hosts\.toml/);

  const image = fixture.images.oci;
  const pulled = await containerd.pull(`docker.io/${image.name}:${image.tag}`, { hostsDir: certsD });
  assert.ok(pulled.ok, pulled.output);
  assert.equal(pulled.digest, image.digest);
  const m = await scrape(fixture.mirror.url);
  assert.ok(sumOf(m, 'pullthrough_requests_total', { kind: 'manifest', status_class: '2xx' }) >= 2, 'manifests came from the mirror');
  assert.ok(sumOf(m, 'pullthrough_requests_total', { kind: 'blob', method: 'GET', status_class: '2xx' }) >= 2, 'blobs came from the mirror');
  // Every blob GET the upstream saw was the mirror's: containerd never fell back to the `server`.
  assert.equal(fixture.upstream.count({ method: 'GET', kind: 'blob' }), sumOf(m, 'pullthrough_upstream_requests_total', { method: 'GET', kind: 'blob' }));
});
