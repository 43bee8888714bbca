import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 15: prefetch is background work. It stops at the quota's reserve (leaving it to images clients
// ask for), says so, waits for the window's reset without asking upstream, resumes and finishes.

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  // 5 pulls in the first 2 s window, reserve 3: two images now, the other two after the reset.
  upstream = await new MemoryRegistry({ rateLimit: { limit: 10, remaining: 5, windowMs: 2000 } }).start();
  for (let i = 0; i < 4; i++) upstream.addImage(`app/img${i}`, 'v1');
  mirror = await startMirror({ hub: { url: upstream.url, quota: { reserve: 3 } } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

test('prefetch pauses at the reserve, says so, and resumes after the reset', async () => {
  const started = Date.now();
  const run = await runCli(['prefetch', '--mirror', mirror.url, 'app/img0:v1', 'app/img1:v1', 'app/img2:v1', 'app/img3:v1']);
  assert.equal(run.status, 0, run.stderr);
  for (let i = 0; i < 4; i++) assert.match(run.stdout, new RegExp(`app/img${i}:v1: sha256:`));
  assert.match(run.stderr, /app\/img2:v1: paused: pull quota of hub is at its reserve \(3 left, reserve 3\); resuming at .*; resuming in \d s/);
  assert.match(run.stderr, /app\/img2:v1: resumed/);
  assert.ok(Date.now() - started >= 1000, 'it waited for the window');
  // One GET per image: nothing was asked while paused, and the upstream never had to refuse.
  assert.equal(upstream.count({ method: 'GET', kind: 'manifest' }), 4);
  assert.equal(upstream.pullsLeft(), 8);
});
