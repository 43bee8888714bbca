import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Keyv } from 'keyv';
import { LmdbStore } from '../../src/metadata/lmdb-store.ts';
import { EmbeddedMetadataProcess } from '../support/embedded-metadata-process.ts';
import { scratchDir } from '../support/scratch-dir.ts';

// A mirror process killed with SIGKILL while writing metadata (32 writers at once, so the kill lands inside
// batched transactions) must lose nothing whose set had resolved: the child prints a key only after its
// awaited set resolved, and every printed key is read back, with its value, after the kill.

test('kill -9 during writes loses no committed entry, at several points of the stream', async (t) => {
  const dir = await scratchDir(t, 'embedded-metadata-kill-');
  const committed = new Map<string, string>();

  for (const killAfter of [200, 1500, 4000]) {
    const child = await EmbeddedMetadataProcess.start(dir);
    t.after(() => child.kill('SIGKILL'));
    child.send({ op: 'write-loop' });
    // Keys are reused by every round (w0-0, …), so a value from an earlier round never passes for this one.
    const round = new Map<string, string>();
    while (round.size < killAfter) {
      const { key, value } = (await child.next()) as { key: string; value: string };
      round.set(key, value);
    }
    await child.kill('SIGKILL');
    for (const line of await child.rest()) round.set(line.key as string, line.value as string);
    for (const [key, value] of round) committed.set(key, value);

    const store = await LmdbStore.open(join(dir, 'metadata.lmdb'));
    const keyv = new Keyv({ store, namespace: 'pullthrough' });
    const missing: string[] = [];
    for (const [key, value] of committed) if ((await keyv.get(key)) !== value) missing.push(key);
    assert.deepEqual(missing, [], `${missing.length} of ${committed.size} committed keys lost or stale after kill -9 at ${round.size}`);
    // The database is usable after the kill, for writes too.
    assert.equal(await keyv.set('after-kill', String(killAfter)), true);
    await keyv.disconnect();
  }
});
