import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { parseDigest, type Digest } from '../../src/reference.ts';
import { FilesystemBlobStore } from '../../src/storage/filesystem-blob-store.ts';
import { runCli } from '../support/cli.ts';

// gc, verify and config check as scripts use them: their reports and their exit statuses.

let dir: string;
let store: FilesystemBlobStore;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-cli-'));
  store = await FilesystemBlobStore.open(path.join(dir, 'store'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function keep(size: number, minutesAgo: number): Promise<Digest> {
  const bytes = randomBytes(size);
  const digest = parseDigest(`sha256:${createHash('sha256').update(bytes).digest('hex')}`) as Digest;
  await store.put(digest, bytes);
  await store.touch(digest, new Date(Date.now() - minutesAgo * 60_000));
  return digest;
}

async function configFile(name: string, extra: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `storage:\n  path: ${path.join(dir, 'store')}\n${extra}defaultUpstream: hub\nupstreams:\n  hub: { url: "http://127.0.0.1:1" }\n`);
  return file;
}

test('gc evicts least recently used first down to the cap, reports it, and says 4 while another sweeper runs', async () => {
  const oldest = await keep(4000, 300);
  const older = await keep(4000, 200);
  const recent = await keep(4000, 100);
  const file = await configFile('gc.yaml', '  maxSize: 9000\n');
  const dry = await runCli(['gc', '--config', file, '--dry-run']);
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /would evict 1 blobs and manifests/);
  assert.match(dry.stdout, new RegExp(`^  ${oldest.text} .* last used \\d{4}-\\d\\d-\\d\\dT.*over the cap`, 'm'), 'a dry run lists what would go');
  assert.match(dry.stdout, /store: 11\.7 KiB before, 7\.81 KiB after \(if run\).*, 2 kept/, 'after = before minus what would go');
  assert.ok(await store.stat(oldest));

  const run = await runCli(['gc', '--config', file, '--json']);
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout) as { evicted: Array<{ digest: string; usedAt: string }>; freedBytes: number; bytesAfter: number };
  assert.deepEqual(report.evicted.map((e) => e.digest), [oldest.text]);
  assert.match(report.evicted[0]?.usedAt ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'times as ISO 8601');
  assert.equal(report.freedBytes, 4000);
  assert.equal(await store.stat(oldest), undefined);
  assert.ok((await store.stat(older)) && (await store.stat(recent)));

  await writeFile(path.join(dir, 'store', 'eviction.lock'), 'someone-else');
  try {
    const busy = await runCli(['gc', '--config', file, '--max-size', '1']);
    assert.equal(busy.status, 4);
    assert.ok(await store.stat(older), 'nothing removed while another sweeper holds the lock');
  } finally {
    await rm(path.join(dir, 'store', 'eviction.lock'), { force: true });
  }
  const unlimited = await runCli(['gc', '--config', await configFile('nolimit.yaml', '')]);
  assert.equal(unlimited.status, 2);
  assert.match(unlimited.stderr, /no limit to enforce/);
});

test('verify finds a corrupt blob (status 3), removes it, and is clean (0) on the next run', async () => {
  const good = await keep(2000, 10);
  const bad = await keep(2000, 10);
  await writeFile(store.pathFor(bad), randomBytes(2000));
  const file = await configFile('verify.yaml', '');
  const first = await runCli(['verify', '--config', file]);
  assert.equal(first.status, 3, first.stderr);
  assert.match(first.stdout, new RegExp(`corrupt ${bad.text} .*removed`));
  assert.match(first.stdout, /1 corrupt, removed/);
  assert.equal(await store.stat(bad), undefined);
  assert.ok(await store.stat(good));
  const second = await runCli(['verify', '--config', file]);
  assert.equal(second.status, 0);
  assert.match(second.stdout, /all intact/);
});

test('config check prints the resolved config with secrets masked; a bad one exits 2 naming the problems', async () => {
  const file = await configFile('secret.yaml', 'metadata:\n  redis: redis://:hunter2@127.0.0.1:6379\n');
  const ok = await runCli(['config', 'check', '--config', file]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.ok(!ok.stdout.includes('hunter2'), ok.stdout);
  assert.match(ok.stdout, /redis:\/\/:\*{8}@127\.0\.0\.1:6379/);
  assert.match(ok.stdout, /evictionGrace: 5m/);
  const bad = await runCli(['config', 'check', '--config', await configFile('bad.yaml', '  maxSize: lots\ntls: { cert: /nonexistent/c.pem, key: /nonexistent/k.pem }\n')]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /storage\.maxSize: not a size/);
  const unreadable = await runCli(['config', 'check', '--config', await configFile('tls.yaml', 'tls: { cert: /nonexistent/c.pem, key: /nonexistent/k.pem }\n')]);
  assert.equal(unreadable.status, 2);
  assert.match(unreadable.stderr, /tls\.cert: cannot read \/nonexistent\/c\.pem/);
});

test('--version prints the package version; subcommand help names only its own exit statuses', async () => {
  const version = await runCli(['--version']);
  assert.equal(version.status, 0);
  assert.match(version.stdout, /^pullthrough \d+\.\d+\.\d+\n$/);
  const help = await runCli(['gc', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Exit status: 0 done, 1 failure, 2 usage or config error, 4 another process/);
  assert.doesNotMatch(help.stdout, /verify: corrupt blobs/, 'no other command\'s statuses');
});

test('a port already in use is one line naming the address and what to do, exit 2', async (t) => {
  const busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.after(() => busy.close());
  const { port } = busy.address() as net.AddressInfo;
  const file = await configFile('busy.yaml', `listen: 127.0.0.1:${port}\nlogLevel: silent\n`);
  const run = await runCli(['serve', '--config', file]);
  assert.equal(run.status, 2, run.stderr);
  assert.match(run.stderr, new RegExp(`EADDRINUSE.*127\\.0\\.0\\.1:${port} — another process listens there`));
  assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
});

test('serve --log-format takes json or pretty, anything else is a usage error', async () => {
  const run = await runCli(['serve', '--log-format', 'fancy', '--config', await configFile('fmt.yaml', '')]);
  assert.equal(run.status, 2);
  assert.match(run.stderr, /--log-format: expected json or pretty, got "fancy"/);
});
