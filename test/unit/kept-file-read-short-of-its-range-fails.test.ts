import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { readKeptFile } from '../../src/storage/kept-file-reader.ts';
import { scratchDir } from '../support/scratch-dir.ts';

// A kept blob's file read as a stream (not sent to a response): a range is read exactly, and a file that
// ends before the range asked for is an error, never a silently short answer.

test('a kept file is read in ranges exactly, and a range past its end fails', async (t) => {
  const dir = await scratchDir(t, 'kept-file');
  const file = path.join(dir, 'blob');
  const bytes = Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 5 }, (_, i) => i % 251));
  await writeFile(file, bytes);
  const read = async (start?: number, end?: number): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const chunk of readKeptFile(file, start, end)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  assert.ok((await read()).equals(bytes));
  assert.ok((await read(1024 * 1024 - 1, 2 * 1024 * 1024 + 3)).equals(bytes.subarray(1024 * 1024 - 1, 2 * 1024 * 1024 + 4)));
  await assert.rejects(read(0, bytes.length + 99), /ended before the range asked for/);
});
