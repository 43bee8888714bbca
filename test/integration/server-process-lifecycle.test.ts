import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

// The process entry as a user runs it: `npm start` = tsx src/server.ts.

const SERVER = path.resolve('src/server.ts');
let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-server-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function run(args: string[], env: Record<string, string>): { child: ReturnType<typeof spawn>; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

test('a bad config is one message naming every problem, and exit status 2', async () => {
  const file = path.join(dir, 'bad.yaml');
  await writeFile(
    file,
    'listen: nowhere\nstorage: { path: ./x }\ndefaultUpstream: missing\nupstreams:\n  hub: { url: "ftp://x", tagTtl: soon, passwordFile: /nonexistent, username: u }\n',
  );
  const { output, exited } = run(['--config', file], {});
  assert.equal(await exited, 2);
  for (const fragment of ['listen', 'defaultUpstream', 'upstreams.hub.url', 'upstreams.hub.tagTtl']) {
    assert.ok(output().includes(fragment), `mentions ${fragment}:\n${output()}`);
  }
});

test('an unreadable passwordFile is refused at start', async () => {
  const file = path.join(dir, 'secret.yaml');
  await writeFile(file, `storage: { path: ${dir}/s }\ndefaultUpstream: hub\nupstreams:\n  hub: { url: "http://127.0.0.1:1", username: u, passwordFile: ${dir}/missing }\n`);
  const { output, exited } = run(['--config', file], {});
  assert.equal(await exited, 2);
  assert.match(output(), /passwordFile: cannot read/);
});

test('the default config starts with no Redis and no upstream reachable, serves /v2/, exits 0 on SIGTERM', async () => {
  const { child, output, exited } = run([], {
    PULLTHROUGH_LISTEN: '127.0.0.1:0',
    PULLTHROUGH_STORAGE_PATH: path.join(dir, 'data'),
    PULLTHROUGH_CONFIG: '',
  });
  let url: string | undefined;
  for (let i = 0; i < 100 && !url; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output())?.[1];
  }
  assert.ok(url, output());
  const ping = await fetch(`${url}/v2/`);
  assert.equal(ping.status, 200);
  assert.equal(ping.headers.get('docker-distribution-api-version'), 'registry/2.0');
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.match(output(), /"metadata":"embedded"/);
});
