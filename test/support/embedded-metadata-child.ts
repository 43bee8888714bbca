// A separate process holding the embedded metadata as a mirror process opens it (openKeyv: the LMDB
// database in the storage directory, importing an old metadata.log there once), for the tests of several
// processes sharing it. argv[2] is the storage directory. Its log lines go to stderr; stdin takes one JSON
// command per line and stdout answers each with one JSON line, written only after the operation resolved:
//   {"op":"set","key":K,"value":V,"ttl"?:MS} → {"ok":true}        {"op":"get","key":K} → {"value":V}
//   {"op":"write-loop"} → {"key":K,"value":V} per set, from 32 concurrent writers, until killed
//   {"op":"close"} → {"closed":true}, then the process exits
// The first line, {"ready":true}, comes once the database is open (and any import done). With a third
// argument `--open-on-command`, the child first answers {"waiting":true} and opens only on {"op":"open"},
// so that several children can be made to open at the same instant.

import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { parseConfig } from '../../src/config.ts';
import type { Logger } from '../../src/logger.ts';
import { openKeyv } from '../../src/metadata/open-keyv.ts';

const storage = process.argv[2];
if (storage === undefined) throw new Error('usage: embedded-metadata-child.ts STORAGE_DIR');

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const answer = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`);
if (process.argv[3] === '--open-on-command') {
  answer({ waiting: true });
  await lines.next();
}
const config = parseConfig({ storage: { path: storage }, upstreams: { hub: { url: 'http://127.0.0.1:1' } } });
const log = pino({ level: 'info' }, pino.destination(2)) as unknown as Logger;
const keyv = await openKeyv(config, log, { embeddedMetadataPath: () => join(storage, 'metadata.log') });

async function writeLoop(writer: number): Promise<never> {
  for (let i = 0; ; i++) {
    const key = `w${writer}-${i}`;
    const value = `${key}:${process.hrtime.bigint()}`;
    await keyv.set(key, value);
    answer({ key, value });
  }
}

answer({ ready: true });
for (let next = await lines.next(); next.done !== true; next = await lines.next()) {
  const line = next.value;
  const command = JSON.parse(line) as { op: string; key?: string; value?: unknown; ttl?: number };
  if (command.op === 'set') answer({ ok: await keyv.set(command.key ?? '', command.value, command.ttl) });
  else if (command.op === 'get') answer({ value: await keyv.get(command.key ?? '') });
  else if (command.op === 'write-loop') for (let w = 0; w < 32; w++) void writeLoop(w);
  else if (command.op === 'close') {
    await keyv.disconnect();
    answer({ closed: true });
    process.exit(0);
  }
}
