import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Keyv } from 'keyv';
import { LmdbStore } from '../../src/metadata/lmdb-store.ts';
import { scratchDir } from '../support/scratch-dir.ts';

async function keysOf(store: LmdbStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const [key] of store.iterator()) keys.push(String(key));
  return keys.sort();
}

test('delete persists across reopen and answers whether the key was there', async (t) => {
  const path = join(await scratchDir(t, 'lmdb-store-'), 'metadata.lmdb');

  const store = await LmdbStore.open(path);
  const keyv = new Keyv({ store, namespace: 'pullthrough' });
  await keyv.set('a', '1');
  await keyv.set('b', '2');
  await keyv.set('c', '3');
  await keyv.set('d', '4');
  assert.equal(await keyv.delete('a'), true);
  assert.equal(await keyv.delete('missing'), false);
  assert.equal(await keyv.delete(['b']), true);
  assert.equal(await keyv.delete(['d', 'missing']), false, 'deleteMany is true only if every key was there');
  await store.close();

  const reopened = await LmdbStore.open(path);
  t.after(() => reopened.close());
  assert.deepEqual(await keysOf(reopened), ['pullthrough:c']);
});

test('clear persists across reopen, removes only the Keyv namespace, and later sets survive it', async (t) => {
  const path = join(await scratchDir(t, 'lmdb-store-'), 'metadata.lmdb');

  const store = await LmdbStore.open(path);
  await store.set('elsewhere:x', 'kept');
  // Sorts right after the namespace's keys: a clear that ran past the prefix would take it.
  await store.set('pullthrough;x', 'kept too');
  const keyv = new Keyv({ store, namespace: 'pullthrough' });
  await keyv.set('a', '1');
  await keyv.set('b', '2');
  await keyv.clear();
  assert.equal(await keyv.get('a'), undefined);
  await keyv.set('after-clear', '3');
  await store.close();

  const reopened = await LmdbStore.open(path);
  t.after(() => reopened.close());
  assert.deepEqual(await keysOf(reopened), ['elsewhere:x', 'pullthrough:after-clear', 'pullthrough;x']);
});

test('clear without a namespace removes everything, persistently', async (t) => {
  const path = join(await scratchDir(t, 'lmdb-store-'), 'metadata.lmdb');

  const store = await LmdbStore.open(path);
  await store.set('x:a', '1');
  await store.set('b', '2');
  await store.clear();
  await store.close();

  const reopened = await LmdbStore.open(path);
  t.after(() => reopened.close());
  assert.deepEqual(await keysOf(reopened), []);
});
