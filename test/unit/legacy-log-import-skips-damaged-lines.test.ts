import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readLegacyLog } from '../../src/metadata/legacy-log-import.ts';
import { scratchDir } from '../support/scratch-dir.ts';

test('unparsable lines in the middle are skipped with a warning and the rest of the log still loads', async (t) => {
  const dir = await scratchDir(t, 'legacy-log-');
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
  const before = await readFile(path);

  const warnings: string[] = [];
  const entries = await readLegacyLog(path, (msg) => warnings.push(msg));
  assert.deepEqual(entries, new Map([['before', { value: '1' }], ['after', { value: '3' }]]));
  assert.equal(warnings.length, 5, warnings.join('\n'));
  assert.match(warnings[0] ?? '', /:2: skipping unparsable log line/);
  assert.match(warnings[4] ?? '', /:8: skipping unparsable log line/);
  assert.deepEqual(await readFile(path), before, 'reading changes nothing');
});

test('a log whose last line is cut mid-JSON loads every earlier entry; a last record that only lost its newline is kept', async (t) => {
  const dir = await scratchDir(t, 'legacy-log-');
  const torn = join(dir, 'torn.log');
  const whole = join(dir, 'whole.log');
  const lines = Array.from({ length: 20 }, (_, i) => `{"op":"set","key":"pullthrough:k${i}","value":"{\\"value\\":\\"v${i}\\"}"}\n`).join('');
  // What a crash halfway through an append leaves behind.
  await writeFile(torn, `${lines}{"op":"set","key":"pullthrough:torn","value":"{\\"value\\":\\"ha`);
  await writeFile(whole, `${lines}{"op":"set","key":"b","value":"2"}`);

  const warnings: string[] = [];
  const entries = await readLegacyLog(torn, (msg) => warnings.push(msg));
  assert.equal(entries?.size, 20);
  assert.deepEqual(entries?.get('pullthrough:k19'), { value: '{"value":"v19"}' });
  assert.equal(entries?.has('pullthrough:torn'), false);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /torn last line/);

  const kept = await readLegacyLog(whole, (msg) => assert.fail(msg));
  assert.deepEqual(kept?.get('b'), { value: '2' });
  assert.equal(kept?.size, 21);
  assert.equal(await readLegacyLog(join(dir, 'absent.log'), (msg) => assert.fail(msg)), undefined);
});
