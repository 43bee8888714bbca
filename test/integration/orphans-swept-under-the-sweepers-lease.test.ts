import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { Evictor } from '../../src/eviction/evictor.ts';
import { SWEEP_LEASE_MS } from '../../src/eviction/sweep-lock.ts';
import { FilesystemBlobStore } from '../../src/storage/filesystem-blob-store.ts';

// Issue 10: what dead writers leave (here: temp files in the filesystem store's tmp/) is removed by the one
// sweeper, under its lease — not by a timer of each store — and even with no storage limits configured.

const log = pino({ level: 'silent' });

async function storeWithTemps(t: { after(fn: () => Promise<void>): void }): Promise<{ root: string; store: FilesystemBlobStore; stale: string; live: string }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-orphans-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await FilesystemBlobStore.open(root);
  const [stale, live] = [randomUUID(), randomUUID()];
  await writeFile(path.join(root, 'tmp', stale), 'a dead fill');
  await writeFile(path.join(root, 'tmp', live), 'a live fill');
  const hourAgo = new Date(Date.now() - 3_600_000);
  await utimes(path.join(root, 'tmp', stale), hourAgo, hourAgo);
  return { root, store, stale, live };
}

function evictor(store: FilesystemBlobStore, intervalMs = 0): Evictor {
  return new Evictor({ store, log, lock: store.lock('eviction', SWEEP_LEASE_MS), graceMs: 0, intervalMs, orphanAgeMs: 60_000 });
}

test('a sweep holding the lease removes stale temp files and keeps live ones, with no limits configured', async (t) => {
  const { root, store, stale, live } = await storeWithTemps(t);
  const sweeper = evictor(store);
  assert.equal(sweeper.enabled, false, 'no maxSize, no maxAge');
  const result = await sweeper.sweep();
  assert.equal(result.status, 'done');
  const left = await readdir(path.join(root, 'tmp'));
  assert.ok(!left.includes(stale), 'the stale temp file went');
  assert.ok(left.includes(live), 'the live one stayed');
  await sweeper.stop();
});

test('while another process holds the sweeper lease, this one removes nothing', async (t) => {
  const { root, store, stale } = await storeWithTemps(t);
  const other = await store.lock('eviction', SWEEP_LEASE_MS).tryAcquire();
  assert.ok(other);
  const sweeper = evictor(store);
  assert.equal((await sweeper.sweep()).status, 'busy');
  assert.ok((await readdir(path.join(root, 'tmp'))).includes(stale), 'left for the lease holder');
  await other.release();
  assert.equal((await sweeper.sweep()).status, 'done');
  assert.ok(!(await readdir(path.join(root, 'tmp'))).includes(stale));
  await sweeper.stop();
});

test('the background sweeper runs for orphans at start even without limits', async (t) => {
  const { root, store, stale } = await storeWithTemps(t);
  const sweeper = evictor(store, 3_600_000);
  sweeper.start();
  await sweeper.idle();
  assert.ok(!(await readdir(path.join(root, 'tmp'))).includes(stale));
  await sweeper.stop();
});
