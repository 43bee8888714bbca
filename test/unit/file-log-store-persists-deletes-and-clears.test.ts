import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyv } from 'keyv';
import { FileLogStore } from '../../src/metadata/file-log-store.ts';

test('delete persists across reopen', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'file-log-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'metadata.log');

  const store = await FileLogStore.open(path);
  const keyv = new Keyv({ store, namespace: 'pullthrough' });
  await keyv.set('a', '1');
  await keyv.set('b', '2');
  await keyv.set('c', '3');
  assert.equal(await keyv.delete('a'), true);
  assert.equal(await keyv.delete('missing'), false);
  assert.equal(await keyv.delete(['b']), true);
  await store.close();

  const reopened = await FileLogStore.open(path);
  t.after(() => reopened.close());
  const keyv2 = new Keyv({ store: reopened, namespace: 'pullthrough' });
  assert.equal(await keyv2.get('a'), undefined);
  assert.equal(await keyv2.get('b'), undefined);
  assert.equal(await keyv2.get('c'), '3');
});

test('clear persists across reopen, removes only the Keyv namespace, and later sets survive it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'file-log-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'metadata.log');

  const store = await FileLogStore.open(path);
  await store.set('elsewhere:x', 'kept');
  const keyv = new Keyv({ store, namespace: 'pullthrough' });
  await keyv.set('a', '1');
  await keyv.set('b', '2');
  await keyv.clear();
  assert.equal(await keyv.get('a'), undefined);
  await keyv.set('after-clear', '3');
  await store.close();

  const reopened = await FileLogStore.open(path);
  t.after(() => reopened.close());
  const keyv2 = new Keyv({ store: reopened, namespace: 'pullthrough' });
  assert.equal(await keyv2.get('a'), undefined);
  assert.equal(await keyv2.get('b'), undefined);
  assert.equal(await keyv2.get('after-clear'), '3');
  assert.equal(await reopened.get('elsewhere:x'), 'kept');
});

test('clear without a namespace removes everything, persistently', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'file-log-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'metadata.log');

  const store = await FileLogStore.open(path);
  await store.set('x:a', '1');
  await store.set('b', '2');
  await store.clear();
  await store.close();

  const reopened = await FileLogStore.open(path);
  t.after(() => reopened.close());
  assert.equal(reopened.size, 0);
});
