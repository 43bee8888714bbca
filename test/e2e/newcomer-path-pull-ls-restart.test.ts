import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { freePort } from './support/free-port.ts';
import { seedImage, type SeededImage } from './support/images.ts';
import { skopeoCopy } from './support/skopeo-client.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';
import { spawnTracked, type TrackedProcess } from './support/tracked-process.ts';
import { startUpstreamRegistry, type UpstreamRegistry } from './support/upstream-registry.ts';
import { waitFor } from './support/wait-for.ts';

// The newcomer path (issue 12, acceptance): a config of four lines naming one upstream, `pullthrough
// serve`, a skopeo pull through MIRROR/<prefix>/x, `pullthrough ls` shows it, a restart, and the
// counters on the status page are still there.

const BIN = path.resolve('bin/pullthrough.js');
let dir: string;
let upstream: UpstreamRegistry;
let image: SeededImage;
let port: number;
let configFile: string;
let mirror: TrackedProcess | undefined;

before(async () => {
  dir = await makeTempDir('newcomer');
  upstream = await startUpstreamRegistry({ auth: 'none' });
  image = await seedImage(upstream, { name: 'x', tag: '1.0' });
  port = await freePort();
  configFile = path.join(dir, 'config.yaml');
  await writeFile(configFile, `listen: 127.0.0.1:${port}\nupstreams:\n  local:\n    url: ${upstream.url}\n`);
});
after(async () => {
  await mirror?.stop();
  await upstream?.stop();
  await removeTempDir(dir);
});

async function serve(): Promise<TrackedProcess> {
  const proc = await spawnTracked(process.execPath, [BIN, 'serve', '--config', configFile], { logFile: path.join(dir, 'serve.log'), env: { ...process.env, PULLTHROUGH_CONFIG: '' } });
  await waitFor(
    'pullthrough serve to answer',
    async () => ((await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status).catch(() => 0)) === 200 ? true : undefined),
    { timeoutMs: 30_000, intervalMs: 100, abortIf: () => (proc.isRunning() ? undefined : 'pullthrough serve exited; see serve.log') },
  );
  return proc;
}

async function hitRatio(): Promise<string | undefined> {
  const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
  return /data-metric="hit-ratio" data-value="([^"]*)"/.exec(page)?.[1];
}

test('four-line config, serve, skopeo pull, ls shows it, restart keeps the counters', async () => {
  mirror = await serve();
  for (const n of [1, 2]) {
    const copied = await skopeoCopy(`127.0.0.1:${port}/local/x:1.0`, path.join(dir, `copy${n}`));
    assert.ok(copied.ok, copied.output);
    assert.equal(copied.digest, image.digest);
  }
  const listed = await runCli(['ls', '--config', configFile]);
  assert.equal(listed.status, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`^local/x\\s+1\\.0\\s+${image.digest.slice(0, 19)}`, 'm'));
  const ratio = await hitRatio();
  assert.ok(ratio !== undefined && Number(ratio) > 0, `hit ratio before the restart: ${ratio}`);

  await mirror.stop();
  mirror = await serve();
  assert.equal(await hitRatio(), ratio, 'the counters survived the restart');
  const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
  assert.match(page, /since \d{4}-\d\d-\d\d/);
  assert.match(page, /local\/x/, 'the cached images table');
});
