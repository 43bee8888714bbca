import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// `pullthrough ls` (issue 12, item 12): what is cached, per upstream — image, tag, digest, the bytes of
// it kept, last use — read from the embedded metadata a running mirror owns (without writing to it) and
// from its store; --json for scripts.

let dir: string;
let upstream: MemoryRegistry;
let mirror: TestMirror;
let configFile: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-ls-'));
  upstream = await new MemoryRegistry().start();
  mirror = await startMirror({ hub: { url: upstream.url } }, { storage: path.join(dir, 'store'), keyv: 'configured' });
  configFile = path.join(dir, 'config.yaml');
  await writeFile(configFile, `storage:\n  path: ${path.join(dir, 'store')}\nupstreams:\n  hub: { url: "${upstream.url}" }\n`);
});
after(async () => {
  await mirror.close({ keepStorage: true });
  await upstream.stop();
  await rm(dir, { recursive: true, force: true });
});

test('ls lists pulled images with digest, kept size and last use, as text and as JSON', async () => {
  const app = upstream.addImage('team/app', '1.0', 3000);
  const tool = upstream.addImage('team/tool', 'v2', 5000);
  for (const url of [`/v2/team/app/manifests/1.0`, `/v2/team/app/blobs/${app.config}`, `/v2/team/app/blobs/${app.layer}`, `/v2/team/tool/manifests/v2`]) {
    const response = await fetch(`${mirror.url}${url}`);
    assert.equal(response.status, 200, url);
    await response.arrayBuffer();
  }
  const appSize = app.manifest.bytes.length + (upstream.blobs.get(app.config)?.length ?? 0) + 3000;

  const json = await runCli(['ls', '--config', configFile, '--json']);
  assert.equal(json.status, 0, json.stderr);
  const report = JSON.parse(json.stdout) as { images: Array<{ upstream: string; repository: string; name: string; tag: string; digest: string; size: number; complete: boolean; lastUsed: string }> };
  const byName = new Map(report.images.map((image) => [`${image.name}:${image.tag}`, image]));
  assert.deepEqual([...byName.keys()].sort(), ['hub/team/app:1.0', 'hub/team/tool:v2']);
  const listed = byName.get('hub/team/app:1.0');
  assert.equal(listed?.upstream, 'hub');
  assert.equal(listed?.repository, 'team/app');
  assert.equal(listed?.digest, app.digest);
  assert.equal(listed?.size, appSize, 'manifest + config + layer, all kept');
  assert.equal(listed?.complete, true);
  assert.ok(Math.abs(Date.parse(listed?.lastUsed ?? '') - Date.now()) < 60_000, listed?.lastUsed);
  const partial = byName.get('hub/team/tool:v2');
  assert.equal(partial?.digest, tool.digest);
  assert.equal(partial?.size, tool.manifest.bytes.length, 'only the manifest was pulled');
  assert.equal(partial?.complete, false);

  const text = await runCli(['ls', '--config', configFile]);
  assert.equal(text.status, 0, text.stderr);
  assert.equal(text.stderr, '');
  assert.match(text.stdout, /^IMAGE\s+TAG\s+DIGEST\s+SIZE\s+LAST USED/m);
  assert.match(text.stdout, new RegExp(`^hub/team/app\\s+1\\.0\\s+${app.digest.slice(0, 19)}\\S*\\s+\\d[\\d.]* KiB\\s+\\S`, 'm'));
  assert.match(text.stdout, /^hub\/team\/tool\s+v2\s+sha256:\S+\s+\S+ B\s+.*\(partly kept\)/m);
  assert.match(text.stdout, /2 tags in 2 repositories/);
});
