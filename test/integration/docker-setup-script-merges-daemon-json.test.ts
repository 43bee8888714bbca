import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

const run = promisify(execFile);
let upstream: MemoryRegistry;
let mirror: TestMirror;
let dir: string;
let script: string;

before(async () => {
  upstream = await new MemoryRegistry().start();
  mirror = await startMirror({ dockerhub: { url: upstream.url, aliases: ['docker.io'] } });
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-docker-setup-'));
  script = path.join(dir, 'docker.sh');
  // fetch() cannot set Host; inject can, as a client reaching the mirror by that name would.
  const response = await mirror.app.inject({ url: '/setup/docker.sh', headers: { host: 'cache.example:5000' } });
  assert.equal(response.statusCode, 200);
  await writeFile(script, response.body);
});
after(async () => {
  await mirror.close();
  await upstream.stop();
  await rm(dir, { recursive: true, force: true });
});

const EXISTING = { 'log-driver': 'journald', 'registry-mirrors': ['https://other.example'], features: { buildkit: true } };

/** A PATH holding only the basic tools the script uses plus `tool`, so each merge path can be tested. */
async function pathWith(tool: string | undefined): Promise<string> {
  const bin = await mkdtemp(path.join(dir, 'bin-'));
  for (const name of ['dirname', 'mkdir', 'rm', 'cp', 'mv', 'cat', 'sed', ...(tool ? [tool] : [])]) {
    // The system's binaries, not version-manager shims (which are bash scripts needing more of PATH).
    const { stdout } = await run('sh', ['-c', `test -x /usr/bin/${name} && echo /usr/bin/${name} || command -v ${name}`]);
    await symlink(stdout.trim(), path.join(bin, name));
  }
  return bin;
}

async function runScript(file: string, tool: string | undefined): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run('/bin/sh', [script], { env: { PATH: await pathWith(tool), DOCKER_DAEMON_JSON: file } });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, out: failed.stdout + failed.stderr };
  }
}

for (const tool of ['python3', 'node', 'jq']) {
  test(`with ${tool}: the mirror is added to an existing daemon.json, other keys survive, a rerun changes nothing`, async () => {
    const file = path.join(dir, `${tool}/daemon.json`);
    await mkdir(path.dirname(file));
    await writeFile(file, JSON.stringify(EXISTING, null, 2));
    const first = await runScript(file, tool);
    assert.equal(first.code, 0, first.out);
    assert.match(first.out, /added http:\/\/cache\.example:5000 to "registry-mirrors"/);
    assert.match(first.out, /added cache\.example:5000 to "insecure-registries"/);
    const merged = JSON.parse(await readFile(file, 'utf8'));
    assert.deepEqual(merged, {
      ...EXISTING,
      'registry-mirrors': ['http://cache.example:5000', 'https://other.example'],
      'insecure-registries': ['cache.example:5000'],
    });
    assert.deepEqual(JSON.parse(await readFile(`${file}.pullthrough.bak`, 'utf8')), EXISTING, 'a backup of the previous file');

    const second = await runScript(file, tool);
    assert.equal(second.code, 0, second.out);
    assert.match(second.out, /nothing changed/);
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), merged);
  });
}

test('a missing daemon.json is created with just the mirror', async () => {
  const file = path.join(dir, 'fresh/docker/daemon.json');
  const result = await runScript(file, 'python3');
  assert.equal(result.code, 0, result.out);
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), {
    'registry-mirrors': ['http://cache.example:5000'],
    'insecure-registries': ['cache.example:5000'],
  });
});

test('with no python3, node or jq the script refuses, says why, and leaves the file alone', async () => {
  const file = path.join(dir, 'none/daemon.json');
  await mkdir(path.dirname(file));
  await writeFile(file, JSON.stringify(EXISTING));
  const result = await runScript(file, undefined);
  assert.notEqual(result.code, 0);
  assert.match(result.out, /none of python3, node or jq is installed/);
  assert.equal(await readFile(file, 'utf8'), JSON.stringify(EXISTING));
});

test('a daemon.json that is not JSON is left alone', async () => {
  const file = path.join(dir, 'broken/daemon.json');
  await mkdir(path.dirname(file));
  await writeFile(file, '{ "log-driver": ');
  for (const tool of ['python3', 'node', 'jq']) {
    const result = await runScript(file, tool);
    assert.notEqual(result.code, 0, `${tool}: ${result.out}`);
    assert.match(result.out, /nothing changed/, tool);
    assert.equal(await readFile(file, 'utf8'), '{ "log-driver": ', tool);
  }
});
