import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, copyFile, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Keyv from 'keyv';
import { open } from 'lmdb';
import pino from 'pino';
import { parseConfig } from '../../src/config.ts';
import type { Logger } from '../../src/logger.ts';
import { MetadataStore } from '../../src/metadata/metadata-store.ts';
import { openKeyv, openKeyvForReading } from '../../src/metadata/open-keyv.ts';
import { EmbeddedMetadataProcess } from '../support/embedded-metadata-process.ts';
import { scratchDir } from '../support/scratch-dir.ts';

// Upgrading from the append-only metadata.log: the first start imports its live entries into the LMDB
// database with their absolute expiries, renames it to metadata.log.migrated, and never imports again.
//
// The fixture was written by the FileLogStore this replaced (commit f8e3168), through Keyv and the
// MetadataStore as a mirror wrote it: a tag (ttl 100 years) and its catalog index, a second tag deleted
// again, a manifest record, origins, stats, a token and an absence that have expired since, a key
// overwritten, a key set to expire after a long expiry, a namespace cleared and set again, and an
// unserialised object set on the adapter directly.
const FIXTURE = fileURLToPath(new URL('../unit/fixtures/legacy-metadata-log.jsonl', import.meta.url));
const DIGEST = `sha256:${'a'.repeat(64)}`;
const INDEX = 'application/vnd.oci.image.index.v1+json';

/** Every live entry of the fixture and its expiry (ms since epoch, absent = none), read by hand from it. */
const LIVE: Record<string, number | undefined> = {
  'pullthrough:tag:dockerhub:library/alpine:3.20': 4949907480944,
  'pullthrough:catalog-tags:dockerhub:library/alpine': 4949907480947,
  'pullthrough:catalog:dockerhub': 4949907480946,
  [`pullthrough:upstream-manifest:dockerhub:${DIGEST}`]: undefined,
  [`pullthrough:origins:${DIGEST}`]: undefined,
  'pullthrough:stats:0': undefined,
  'pullthrough:overwritten': undefined,
  'pullthrough:unicode': undefined,
  'scratch:after-clear': undefined,
  'raw-object': undefined,
};

interface Captured {
  log: Logger;
  lines: Array<{ msg: string; entries?: number; renamedTo?: string }>;
}

function capturingLogger(): Captured {
  const lines: Captured['lines'] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Captured['lines'][number]) });
  return { log: log as unknown as Logger, lines };
}

function start(storage: string, log: Logger): Promise<Keyv> {
  const config = parseConfig({ storage: { path: storage }, upstreams: { dockerhub: { url: 'http://127.0.0.1:1' } } });
  return openKeyv(config, log, { embeddedMetadataPath: () => join(storage, 'metadata.log') });
}

/** Everything physically in the database's entries, past the adapter: key → expiry. */
async function storedExpiries(storage: string): Promise<Record<string, number | undefined>> {
  const root = open({ path: join(storage, 'metadata.lmdb'), noSubdir: false, readOnly: true, maxDbs: 4 });
  // As lmdb-store.ts opens it (lmdb takes `encoder` per database, though its types do not say so).
  const options = { name: 'entries', encoder: { useRecords: false, mapsAsObjects: true } };
  const entries = root.openDB<{ value: unknown; expires?: number }, string>(options);
  const result: Record<string, number | undefined> = {};
  for (const { key, value } of entries.getRange()) result[key] = value.expires;
  await root.close();
  return result;
}

test('the first start imports every live entry of metadata.log with its expiry, renames the log, and a restart imports nothing again', async (t) => {
  const storage = await scratchDir(t, 'legacy-import-');
  await copyFile(FIXTURE, join(storage, 'metadata.log'));

  const first = capturingLogger();
  const keyv = await start(storage, first.log);
  assert.deepEqual((await readdir(storage)).sort(), ['metadata.lmdb', 'metadata.log.migrated']);
  assert.deepEqual(await readFile(join(storage, 'metadata.log.migrated')), await readFile(FIXTURE), 'the log is moved aside unchanged');
  const imported = first.lines.filter((line) => line.msg === 'imported the old metadata log into the embedded database');
  assert.equal(imported.length, 1);
  assert.equal(imported[0]?.entries, Object.keys(LIVE).length);

  // Read back as the mirror reads it.
  const metadata = new MetadataStore(keyv, first.log);
  assert.deepEqual(await metadata.getTag('dockerhub', 'library/alpine', '3.20'), { digest: DIGEST, mediaType: INDEX, size: 9218, checkedAt: 1_700_000_000_000 });
  assert.equal(await metadata.getTag('dockerhub', 'library/alpine', 'edge'), undefined, 'deleted before the upgrade');
  assert.deepEqual(await metadata.getManifest('dockerhub', DIGEST), { mediaType: INDEX });
  assert.deepEqual(await metadata.getOrigins(DIGEST), ['dockerhub']);
  assert.deepEqual(await metadata.getStats(1), [{ since: 1_700_000_000_000, counts: { hits: 41, misses: 2 } }]);
  assert.deepEqual((await metadata.listTags('dockerhub', 'library/alpine')).map((tag) => tag.tag), ['3.20']);
  assert.equal(await metadata.getToken('dockerhub', 'repository:library/alpine:pull'), undefined, 'expired before the upgrade');
  assert.equal(await metadata.getAbsence('dockerhub', 'library/nope', 'latest'), undefined, 'expired before the upgrade');
  assert.equal(await keyv.get('overwritten'), 'second');
  assert.equal(await keyv.get('unicode'), 'ünïcødé ✓ "quoted"\nnewline');
  assert.equal(await keyv.get('later-expired'), undefined);
  assert.deepEqual(await keyv.opts.store.get('raw-object'), { digest: DIGEST, when: '1970-01-01T00:00:00.000Z' });
  assert.equal(await keyv.opts.store.get('scratch:a'), undefined, 'cleared before the upgrade');

  // After the import: deleted here, and an old log turning up again (say, a downgrade ran meanwhile).
  assert.equal(await keyv.delete('overwritten'), true);
  await keyv.disconnect();
  assert.deepEqual(await storedExpiries(storage), Object.fromEntries(Object.entries(LIVE).filter(([key]) => key !== 'pullthrough:overwritten')), 'exactly the live entries, each with its absolute expiry');

  await copyFile(FIXTURE, join(storage, 'metadata.log'));
  await appendFile(join(storage, 'metadata.log'), '{"op":"set","key":"pullthrough:resurrected","value":"{\\"value\\":\\"no\\"}"}\n');
  const second = capturingLogger();
  const restarted = await start(storage, second.log);
  t.after(() => restarted.disconnect());
  assert.equal(await restarted.get('overwritten'), undefined, 'not imported a second time');
  assert.equal(await restarted.get('resurrected'), undefined);
  assert.equal(second.lines.filter((line) => line.msg.startsWith('imported')).length, 0);
  assert.equal(second.lines.find((line) => line.msg.startsWith('metadata log found after its import'))?.renamedTo, join(storage, 'metadata.log.migrated.2'));
  assert.deepEqual((await readdir(storage)).sort(), ['metadata.lmdb', 'metadata.log.migrated', 'metadata.log.migrated.2']);
  assert.deepEqual(await readFile(join(storage, 'metadata.log.migrated')), await readFile(FIXTURE), 'the first one is not overwritten');
});

test('processes starting at once import the log exactly once', async (t) => {
  // A big log takes a while to read, so every process is still reading it, past its first look for the
  // marker, when the first one imports: only the check inside the import's transaction stops the others.
  const bulk = Array.from({ length: 40_000 }, (_, i) => `{"op":"set","key":"pullthrough:bulk${i}","value":"{\\"value\\":${i}}"}\n`).join('');
  const expected = [...Object.keys(LIVE), ...Array.from({ length: 40_000 }, (_, i) => `pullthrough:bulk${i}`)].sort();
  for (let round = 0; round < 2; round++) {
    const storage = await scratchDir(t, 'legacy-import-race-');
    await copyFile(FIXTURE, join(storage, 'metadata.log'));
    await appendFile(join(storage, 'metadata.log'), bulk);

    const children = await Promise.all([0, 1, 2].map(() => EmbeddedMetadataProcess.start(storage, { openOnCommand: true })));
    t.after(() => Promise.all(children.map((child) => child.kill('SIGKILL'))));
    await Promise.all(children.map((child) => child.open()));
    assert.deepEqual((await readdir(storage)).sort(), ['metadata.lmdb', 'metadata.log.migrated']);
    for (const child of children) {
      assert.deepEqual(await child.request({ op: 'get', key: 'overwritten' }), { value: 'second' });
      assert.deepEqual(await child.request({ op: 'get', key: 'bulk39999' }), { value: 39999 });
    }
    // Closed first, so that all they logged has arrived.
    await Promise.all(children.map((child) => child.close()));
    const importers = children.filter((child) => child.stderr.includes('imported the old metadata log'));
    assert.equal(importers.length, 1, children.map((child) => child.stderr).join('\n'));
    assert.deepEqual(Object.keys(await storedExpiries(storage)).sort(), expected);
  }
});

test('a reader before any start of this version reads the old log as it is, importing and creating nothing', async (t) => {
  const storage = await scratchDir(t, 'legacy-import-reader-');
  await copyFile(FIXTURE, join(storage, 'metadata.log'));
  const config = parseConfig({ storage: { path: storage }, upstreams: { dockerhub: { url: 'http://127.0.0.1:1' } } });

  const reader = await openKeyvForReading(config, capturingLogger().log, { embeddedMetadataPath: () => join(storage, 'metadata.log') });
  const metadata = new MetadataStore(reader, capturingLogger().log);
  assert.equal((await metadata.getTag('dockerhub', 'library/alpine', '3.20'))?.digest, DIGEST);
  assert.equal(await metadata.getToken('dockerhub', 'repository:library/alpine:pull'), undefined);
  assert.deepEqual(await readdir(storage), ['metadata.log']);
});
