import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Keyv } from 'keyv';
import { FileLogStore } from '../../src/metadata/file-log-store.ts';

const countLines = async (path: string): Promise<number> => (await readFile(path, 'utf8')).split('\n').filter(Boolean).length;

test('compaction shrinks the log and preserves data across reopen', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'file-log-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'metadata.log');

  const store = await FileLogStore.open(path, { compactMinEntries: 50 });
  const keyv = new Keyv({ store, namespace: 'pullthrough' });
  for (let k = 0; k < 5; k++) await keyv.set(`stable${k}`, `value${k}`);
  await keyv.set('expiring', 'soon', 30);
  await sleep(50);
  for (let i = 0; i < 1000; i++) await keyv.set('hot', `rev${i}`);
  await store.flush();

  const lines = await countLines(path);
  // Without compaction this would be 1006 lines; with it the log never exceeds min + a batch.
  assert.ok(lines <= 60, `log has ${lines} lines`);
  const raw = await readFile(path, 'utf8');
  assert.ok(!raw.includes('expiring'), 'expired entries are dropped by compaction');
  assert.deepEqual((await readdir(dir)).sort(), ['metadata.log'], 'no temp files left behind');
  await store.close();

  const reopened = await FileLogStore.open(path, { compactMinEntries: 50 });
  t.after(() => reopened.close());
  const keyv2 = new Keyv({ store: reopened, namespace: 'pullthrough' });
  assert.equal(await keyv2.get('hot'), 'rev999');
  for (let k = 0; k < 5; k++) assert.equal(await keyv2.get(`stable${k}`), `value${k}`);
  assert.equal(reopened.size, 6);
});

test('a bloated log is compacted when opened', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'file-log-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'metadata.log');

  const store = await FileLogStore.open(path, { compactMinEntries: 100000 });
  for (let i = 0; i < 300; i++) await store.set('k', `v${i}`);
  await store.close();
  const before = (await stat(path)).size;

  const reopened = await FileLogStore.open(path, { compactMinEntries: 10 });
  t.after(() => reopened.close());
  assert.ok((await stat(path)).size < before / 100);
  assert.equal(await countLines(path), 1);
  assert.equal(await reopened.get('k'), 'v299');
});

test('a temp file left by a crash mid-compaction is removed and the old log is used', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'file-log-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'metadata.log');

  const store = await FileLogStore.open(path);
  await store.set('a', '1');
  await store.close();
  await writeFile(join(dir, 'metadata.log.compact-12345-deadbeef.tmp'), '{"op":"set","key":"a","val');

  const reopened = await FileLogStore.open(path);
  t.after(() => reopened.close());
  assert.equal(await reopened.get('a'), '1');
  assert.deepEqual(await readdir(dir), ['metadata.log']);
});
