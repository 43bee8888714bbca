import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileLogStore } from '../../src/metadata/file-log-store.ts';

test('unparsable lines in the middle are skipped with a warning and the rest of the log still loads', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'file-log-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'metadata.log');

  await writeFile(
    path,
    Buffer.concat([
      Buffer.from(
        [
          '{"op":"set","key":"before","value":"1"}',
          'not json at all {',
          '{"op":"set","value":"record without a key"}',
          '["valid JSON","but not a record"]',
          '{"op":"frobnicate","key":"before"}',
          '',
          '{"op":"set","key":"after","value":"3"}',
          '',
        ].join('\n'),
      ),
      // Invalid UTF-8 inside an otherwise well-formed record: decoding it leniently would load a
      // key that was never written.
      Buffer.from('{"op":"set","key":"bad'),
      Buffer.from([0xff]),
      Buffer.from('","value":"x"}\n{"op":"del","key":"nothing"}\n'),
    ]),
  );

  const warnings: string[] = [];
  const store = await FileLogStore.open(path, { onWarning: (msg) => warnings.push(msg) });
  t.after(() => store.close());
  assert.equal(await store.get('before'), '1');
  assert.equal(await store.get('after'), '3');
  assert.equal(store.size, 2);
  assert.equal(warnings.length, 5, warnings.join('\n'));
  assert.match(warnings[0] ?? '', /:2: skipping unparsable log line/);
  assert.match(warnings[4] ?? '', /:8: skipping unparsable log line/);
});
