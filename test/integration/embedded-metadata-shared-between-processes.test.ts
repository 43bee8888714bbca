import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Keyv } from 'keyv';
import pino from 'pino';
import { parseConfig } from '../../src/config.ts';
import type { Logger } from '../../src/logger.ts';
import { LmdbStore } from '../../src/metadata/lmdb-store.ts';
import { openKeyvForReading } from '../../src/metadata/open-keyv.ts';
import { EmbeddedMetadataProcess } from '../support/embedded-metadata-process.ts';
import { scratchDir } from '../support/scratch-dir.ts';

// The embedded metadata is one database for every process of a host (the workers of `workers: N`, and
// `pullthrough ls` beside them): what one process writes, deletes or lets expire, the others see at once.

test('two processes share one embedded database: sets, overwrites, deletes and TTL expiry seen by both', async (t) => {
  const dir = await scratchDir(t, 'embedded-metadata-shared-');
  const child = await EmbeddedMetadataProcess.start(dir);
  t.after(() => child.kill('SIGKILL'));
  const store = await LmdbStore.open(join(dir, 'metadata.lmdb'));
  const keyv = new Keyv({ store, namespace: 'pullthrough' });
  t.after(() => keyv.disconnect());

  const record = { digest: 'sha256:' + 'b'.repeat(64), mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1234, checkedAt: 1 };
  assert.deepEqual(await child.request({ op: 'set', key: 'tag:hub:team/app:1.0', value: record }), { ok: true });
  assert.deepEqual(await keyv.get('tag:hub:team/app:1.0'), record, 'the other process wrote it');

  await keyv.set('from-parent', 'hello');
  assert.deepEqual(await child.request({ op: 'get', key: 'from-parent' }), { value: 'hello' });
  await keyv.set('from-parent', 'overwritten');
  assert.deepEqual(await child.request({ op: 'get', key: 'from-parent' }), { value: 'overwritten' });
  assert.equal(await keyv.delete('from-parent'), true);
  assert.deepEqual(await child.request({ op: 'get', key: 'from-parent' }), {});

  // The expiry is absolute and stored with the entry, so the process that did not set it honours it too;
  // the adapter is asked directly, since Keyv also checks the expiry it serialises into the value.
  await child.request({ op: 'set', key: 'short', value: 'soon gone', ttl: 600 });
  assert.equal(await store.has('pullthrough:short'), true);
  assert.deepEqual(await child.request({ op: 'get', key: 'short' }), { value: 'soon gone' });
  await sleep(700);
  assert.equal(await store.has('pullthrough:short'), false);
  assert.equal(await store.get('pullthrough:short'), undefined);
  assert.deepEqual(await child.request({ op: 'get', key: 'short' }), {});
  assert.deepEqual(await child.request({ op: 'get', key: 'tag:hub:team/app:1.0' }), { value: record }, 'entries without a TTL stay');
});

test('a reader (pullthrough ls) opens the live database read-only and sees writes made after it opened', async (t) => {
  const dir = await scratchDir(t, 'embedded-metadata-reader-');
  const child = await EmbeddedMetadataProcess.start(dir);
  t.after(() => child.kill('SIGKILL'));
  const config = parseConfig({ storage: { path: dir }, upstreams: { hub: { url: 'http://127.0.0.1:1' } } });
  const reader = await openKeyvForReading(config, pino({ level: 'silent' }) as unknown as Logger, { embeddedMetadataPath: () => join(dir, 'metadata.log') });
  t.after(() => reader.disconnect());

  assert.equal(await reader.get('late'), undefined);
  await child.request({ op: 'set', key: 'late', value: 'written after the reader opened' });
  assert.equal(await reader.get('late'), 'written after the reader opened');
  await assert.rejects((reader.opts.store as LmdbStore).set('pullthrough:x', 'y'), /read-only/);
  assert.deepEqual(await child.request({ op: 'get', key: 'x' }), {}, 'the reader wrote nothing');
});
