import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyv } from 'keyv';
import { FileLogStore } from '../../src/metadata/file-log-store.ts';

test('a log whose last line is cut mid-JSON opens with every earlier entry, and later writes are not glued to it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'file-log-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'metadata.log');

  const store = await FileLogStore.open(path);
  const keyv = new Keyv({ store, namespace: 'pullthrough' });
  for (let i = 0; i < 20; i++) await keyv.set(`k${i}`, `v${i}`);
  await keyv.disconnect();
  // What a crash halfway through an append leaves behind.
  await appendFile(path, '{"op":"set","key":"pullthrough:torn","value":"{\\"value\\":\\"ha');

  const warnings: string[] = [];
  const reopened = await FileLogStore.open(path, { onWarning: (msg) => warnings.push(msg) });
  const keyv2 = new Keyv({ store: reopened, namespace: 'pullthrough' });
  for (let i = 0; i < 20; i++) assert.equal(await keyv2.get(`k${i}`), `v${i}`);
  assert.equal(await keyv2.get('torn'), undefined);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /torn last line/);

  await keyv2.set('after', 'crash');
  await reopened.close();
  const raw = await readFile(path, 'utf8');
  assert.ok(raw.endsWith('\n'));
  assert.ok(!raw.includes('torn'), 'the torn bytes are truncated away before appending');

  const again: string[] = [];
  const third = await FileLogStore.open(path, { onWarning: (msg) => again.push(msg) });
  t.after(() => third.close());
  const keyv3 = new Keyv({ store: third, namespace: 'pullthrough' });
  assert.equal(await keyv3.get('after'), 'crash');
  assert.equal(await keyv3.get('k19'), 'v19');
  assert.deepEqual(again, []);
});

test('a complete last record that only lost its newline is kept', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'file-log-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'metadata.log');

  const store = await FileLogStore.open(path);
  await store.set('a', '1');
  await store.close();
  await appendFile(path, '{"op":"set","key":"b","value":"2"}');

  const reopened = await FileLogStore.open(path, { onWarning: (msg) => assert.fail(msg) });
  await reopened.set('c', '3');
  await reopened.close();

  const third = await FileLogStore.open(path, { onWarning: (msg) => assert.fail(msg) });
  t.after(() => third.close());
  assert.deepEqual(await third.getMany(['a', 'b', 'c']), ['1', '2', '3']);
});
