import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Keyv } from 'keyv';
import { open } from 'lmdb';
import { LmdbStore } from '../../src/metadata/lmdb-store.ts';
import { scratchDir } from '../support/scratch-dir.ts';

test('entries expire after their TTL, through Keyv and the adapter, and stay expired after reopen', async (t) => {
  const path = join(await scratchDir(t, 'lmdb-store-'), 'metadata.lmdb');

  const store = await LmdbStore.open(path);
  const keyv = new Keyv({ store, namespace: 'pullthrough' });
  await keyv.set('short', 'a', 300);
  await keyv.set('forever', 'b');
  await keyv.set('zero-means-forever', 'c', 0);
  // Keyv also checks expiry itself, so probe the adapter directly to prove it honours TTL too.
  await store.set('raw-short', 'd', 300);

  assert.equal(await keyv.get('short'), 'a');
  assert.equal(await store.has('raw-short'), true);
  await sleep(400);
  assert.equal(await keyv.get('short'), undefined);
  assert.equal(await store.get('raw-short'), undefined);
  assert.equal(await store.has('raw-short'), false);
  assert.deepEqual(await store.getMany(['raw-short', 'pullthrough:forever']), [undefined, '{"value":"b"}']);
  assert.equal(await store.has('pullthrough:short'), false);
  assert.equal(await keyv.get('forever'), 'b');
  assert.equal(await keyv.get('zero-means-forever'), 'c');
  await store.close();

  const reopened = await LmdbStore.open(path);
  t.after(() => reopened.close());
  assert.equal(await reopened.get('pullthrough:short'), undefined);
  assert.equal(await reopened.get('raw-short'), undefined);
  const keyv2 = new Keyv({ store: reopened, namespace: 'pullthrough' });
  assert.equal(await keyv2.get('forever'), 'b');
});

test('an expiring set replaces an earlier unexpiring value for the same key: once expired, neither is read', async (t) => {
  const path = join(await scratchDir(t, 'lmdb-store-'), 'metadata.lmdb');

  const store = await LmdbStore.open(path);
  await store.set('k', 'old');
  await store.set('k', 'new', 50);
  await store.close();
  await sleep(80);

  const reopened = await LmdbStore.open(path);
  t.after(() => reopened.close());
  assert.equal(await reopened.get('k'), undefined);
});

test('expired entries are removed from the database by the sweep, at open and on demand', async (t) => {
  const path = join(await scratchDir(t, 'lmdb-store-'), 'metadata.lmdb');
  // What is physically in the database, expired or not, read past the adapter.
  const storedKeys = async (): Promise<string[]> => {
    const root = open({ path, noSubdir: false, readOnly: true, maxDbs: 4 });
    const keys = [...root.openDB<unknown, string>({ name: 'entries' }).getKeys()];
    await root.close();
    return keys.sort();
  };

  const store = await LmdbStore.open(path, { sweepIntervalMs: 0 });
  await store.set('stays', '1');
  await store.set('goes-a', '2', 50);
  await store.set('goes-b', '3', 50);
  await store.set('renewed', '4', 50);
  await sleep(80);
  await store.set('renewed', '5', 60_000);
  assert.deepEqual(await storedKeys(), ['goes-a', 'goes-b', 'renewed', 'stays'], 'a read hides expired entries but does not wait to remove them');
  assert.equal(await store.sweepExpired(), 2);
  assert.deepEqual(await storedKeys(), ['renewed', 'stays']);

  await store.set('goes-c', '6', 50);
  await store.close();
  await sleep(80);
  const reopened = await LmdbStore.open(path);
  t.after(() => reopened.close());
  assert.deepEqual(await storedKeys(), ['renewed', 'stays'], 'opening sweeps');
});
