import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { freePort } from '../e2e/support/free-port.ts';
import { spawnTracked, type TrackedProcess } from '../e2e/support/tracked-process.ts';
import { waitFor } from '../e2e/support/wait-for.ts';
import { makeTempDir, removeTempDir } from '../e2e/support/temp-dir.ts';

// `workers: 2` that cannot start (issue 11): the primary says so once and exits with a failing status,
// instead of forking workers again and again. A taken port is found by the primary before any fork; a
// worker that fails at start (here its storage path is a file) makes the primary stop. And the other way
// round: a SIGTERM that comes while the workers are still starting is a clean stop, not a failure.

const SERVER = path.resolve('src/server.ts');
let dir: string;

before(async () => {
  dir = await makeTempDir('workers-fail');
});
after(async () => {
  await removeTempDir(dir);
});

async function serve(name: string, config: object, whileStarting?: (proc: TrackedProcess, logFile: string) => Promise<void>): Promise<{ status: number | string; log: string }> {
  const file = path.join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify({ logLevel: 'info', workers: 2, upstreams: { hub: { url: 'http://127.0.0.1:9' } }, ...config }));
  const logFile = path.join(dir, `${name}.log`);
  const proc = await spawnTracked(process.execPath, ['--import', 'tsx', SERVER, '--config', file], { logFile });
  const timer = setTimeout(() => void proc.stop(1_000), 30_000);
  await whileStarting?.(proc, logFile);
  const status = await proc.exited;
  clearTimeout(timer);
  await new Promise((resolve) => setTimeout(resolve, 100));
  return { status, log: await readFile(logFile, 'utf8') };
}

test('a taken port: one message from the primary, status 2, no worker forked', async () => {
  const port = await freePort();
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
  try {
    const { status, log } = await serve('port', { listen: `127.0.0.1:${port}`, storage: { path: path.join(dir, 'store-port') } });
    assert.equal(status, 2);
    assert.equal(log.match(/EADDRINUSE/g)?.length, 1, log);
    assert.doesNotMatch(log, /starting workers/);
  } finally {
    holder.close();
  }
});

test('workers failing at start: the primary stops them and exits non-zero, with no restart', async () => {
  const notADirectory = path.join(dir, 'a-file');
  await writeFile(notADirectory, 'not a directory');
  const { status, log } = await serve('store', { listen: `127.0.0.1:${await freePort()}`, storage: { path: notADirectory } });
  assert.notEqual(status, 0);
  assert.equal(log.match(/a worker could not start; stopping/g)?.length, 1, log);
  assert.doesNotMatch(log, /worker died, restarting it/);
});

test('SIGTERM while the workers are still starting: a clean stop, status 0', async () => {
  const { status, log } = await serve('early-stop', { listen: `127.0.0.1:${await freePort()}`, storage: { path: path.join(dir, 'store-early') } }, async (proc, logFile) => {
    // The primary has forked; the workers (tsx, a second or more) are still loading.
    await waitFor('the primary to fork', async () => ((await readFile(logFile, 'utf8').catch(() => '')).includes('starting workers') ? true : undefined), { timeoutMs: 20_000, intervalMs: 10 });
    process.kill(proc.pid, 'SIGTERM');
  });
  assert.equal(status, 0, log);
  assert.doesNotMatch(log, /workers ready/, 'the stop came after the workers were up: the test did not test a stop during start');
});
