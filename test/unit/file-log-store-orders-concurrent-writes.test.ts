import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyv } from 'keyv';
import { FileLogStore } from '../../src/metadata/file-log-store.ts';

test('many concurrent sets in one tick all persist, in call order, last write wins', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'file-log-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'metadata.log');

  const store = await FileLogStore.open(path, { compactMinEntries: 1_000_000 });
  const keyv = new Keyv({ store, namespace: 'pullthrough' });
  const writes: Array<Promise<boolean>> = [];
  for (let i = 0; i < 500; i++) {
    writes.push(keyv.set(`distinct${i}`, `d${i}`));
    writes.push(keyv.set('contended', `c${i}`));
  }
  assert.ok((await Promise.all(writes)).every(Boolean));
  await keyv.disconnect();

  const contended = (await readFile(path, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { key: string; value: string })
    .filter((r) => r.key === 'pullthrough:contended')
    .map((r) => (JSON.parse(r.value) as { value: string }).value);
  assert.deepEqual(contended, Array.from({ length: 500 }, (_, i) => `c${i}`));

  const reopened = await FileLogStore.open(path);
  t.after(() => reopened.close());
  const keyv2 = new Keyv({ store: reopened, namespace: 'pullthrough' });
  assert.equal(await keyv2.get('contended'), 'c499');
  const all = await keyv2.get(Array.from({ length: 500 }, (_, i) => `distinct${i}`));
  assert.deepEqual(all, Array.from({ length: 500 }, (_, i) => `d${i}`));
});

test('flush resolves only after every queued append is on disk', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'file-log-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'metadata.log');

  const store = await FileLogStore.open(path);
  t.after(() => store.close());
  for (let i = 0; i < 200; i++) void store.set(`k${i}`, `v${i}`);
  await store.flush();
  const lines = (await readFile(path, 'utf8')).split('\n').filter(Boolean);
  assert.equal(lines.length, 200);
});
