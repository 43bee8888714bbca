import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Keyv } from 'keyv';
import { LmdbStore } from '../../src/metadata/lmdb-store.ts';
import { scratchDir } from '../support/scratch-dir.ts';

test('values written through Keyv survive close and reopen', async (t) => {
  const dir = await scratchDir(t, 'lmdb-store-');
  // A nested, not-yet-existing directory: open() must create it.
  const path = join(dir, 'nested', 'metadata.lmdb');

  const store = await LmdbStore.open(path);
  const keyv = new Keyv({ store, namespace: 'pullthrough' });
  await keyv.set('docker.io/library/alpine:3.20', 'sha256:abc');
  await keyv.set('manifest-type', { mediaType: 'application/vnd.oci.image.index.v1+json', size: 1234 });
  await keyv.set('unicode', 'ünïcødé ✓ "quoted"\nnewline');
  await keyv.disconnect();

  const reopened = await LmdbStore.open(path);
  t.after(() => reopened.close());
  const keyv2 = new Keyv({ store: reopened, namespace: 'pullthrough' });
  assert.equal(await keyv2.get('docker.io/library/alpine:3.20'), 'sha256:abc');
  assert.deepEqual(await keyv2.get('manifest-type'), { mediaType: 'application/vnd.oci.image.index.v1+json', size: 1234 });
  assert.equal(await keyv2.get('unicode'), 'ünïcødé ✓ "quoted"\nnewline');
  assert.equal(await keyv2.get('never-set'), undefined);
  assert.deepEqual(await keyv2.get(['docker.io/library/alpine:3.20', 'never-set']), ['sha256:abc', undefined]);
  assert.equal(await keyv2.has('manifest-type'), true);
  assert.deepEqual(await keyv2.has(['manifest-type', 'never-set']), [true, false]);

  const listed: string[] = [];
  for await (const [key] of reopened.iterator('pullthrough')) listed.push(String(key));
  assert.deepEqual(listed.sort(), ['pullthrough:docker.io/library/alpine:3.20', 'pullthrough:manifest-type', 'pullthrough:unicode'], 'keys are stored with the Keyv namespace prefix');

  // Another namespace over the same database must not see these keys.
  const other = new Keyv({ store: reopened, namespace: 'other' });
  assert.equal(await other.get('docker.io/library/alpine:3.20'), undefined);
});

test('values set directly on the adapter (unserialised objects) read back the same after reopen', async (t) => {
  const path = join(await scratchDir(t, 'lmdb-store-'), 'metadata.lmdb');

  const store = await LmdbStore.open(path);
  const value = { digest: 'sha256:def', when: new Date(0) };
  await store.set('k', value);
  // Before a restart the value already reads back in its persisted (JSON) form, so behaviour does
  // not change across one.
  const before = await store.get('k');
  await store.close();
  await assert.rejects(store.set('late', 'x'), /closed/);

  const reopened = await LmdbStore.open(path);
  t.after(() => reopened.close());
  const after = await reopened.get('k');
  assert.deepEqual(after, { digest: 'sha256:def', when: '1970-01-01T00:00:00.000Z' });
  assert.deepEqual(after, before);
  assert.equal(await reopened.get('late'), undefined);
  await assert.rejects(reopened.set('bad', undefined), TypeError);
});
