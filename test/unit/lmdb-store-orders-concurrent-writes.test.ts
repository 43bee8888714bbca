import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Keyv } from 'keyv';
import { LmdbStore } from '../../src/metadata/lmdb-store.ts';
import { scratchDir } from '../support/scratch-dir.ts';

test('many concurrent sets in one tick all persist, in call order, last write wins', async (t) => {
  const path = join(await scratchDir(t, 'lmdb-store-'), 'metadata.lmdb');

  const store = await LmdbStore.open(path);
  const keyv = new Keyv({ store, namespace: 'pullthrough' });
  const writes: Array<Promise<boolean>> = [];
  for (let i = 0; i < 500; i++) {
    writes.push(keyv.set(`distinct${i}`, `d${i}`));
    writes.push(keyv.set('contended', `c${i}`));
  }
  assert.ok((await Promise.all(writes)).every(Boolean));
  await keyv.disconnect();

  const reopened = await LmdbStore.open(path);
  t.after(() => reopened.close());
  const keyv2 = new Keyv({ store: reopened, namespace: 'pullthrough' });
  assert.equal(await keyv2.get('contended'), 'c499');
  const all = await keyv2.get(Array.from({ length: 500 }, (_, i) => `distinct${i}`));
  assert.deepEqual(all, Array.from({ length: 500 }, (_, i) => `d${i}`));
});

test('sets, deletes and clears called in one tick apply in call order', async (t) => {
  const dir = await scratchDir(t, 'lmdb-store-');
  const store = await LmdbStore.open(join(dir, 'metadata.lmdb'));
  t.after(() => store.close());
  store.namespace = 'ns';
  await store.set('ns:a', 'old');

  // The adapter is called directly: Keyv awaits serialisation before some calls and not others, so the
  // order of Keyv calls is not the order its store sees. A delete or clear runs as a transaction and a set
  // as a single write; lmdb would run all single writes of a batch first unless told to keep the order.
  await Promise.all([store.delete('ns:a'), store.set('ns:a', 'new'), store.set('ns:b', '1'), store.clear(), store.set('ns:c', 'after clear')]);
  assert.deepEqual(await store.getMany(['ns:a', 'ns:b', 'ns:c']), [undefined, undefined, 'after clear']);
  await Promise.all([store.set('ns:d', 'first'), store.delete('ns:d'), store.set('ns:d', 'last')]);
  assert.equal(await store.get('ns:d'), 'last');
});
