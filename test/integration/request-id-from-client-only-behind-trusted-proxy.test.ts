import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import Keyv from 'keyv';
import pino from 'pino';
import { buildApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config.ts';

// Request ids in the logs: a client's X-Request-Id is used only when trustProxy says a proxy sets it.

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-reqid-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function loggedIds(trustProxy: boolean, sent: string): Promise<string[]> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const config = parseConfig({
    storage: { path: path.join(dir, String(trustProxy)) },
    defaultUpstream: 'hub',
    upstreams: { hub: { url: 'http://127.0.0.1:1' } },
    trustProxy,
  });
  const app = await buildApp(config, { keyv: new Keyv(), logger: pino({ level: 'info' }, sink) });
  try {
    const response = await app.inject({ method: 'GET', url: '/v2/', headers: { 'x-request-id': sent } });
    assert.equal(response.statusCode, 200);
  } finally {
    await app.close();
  }
  return lines.map((line) => JSON.parse(line) as { msg: string; reqId?: string }).filter((l) => l.msg === 'request').map((l) => String(l.reqId));
}

test('without trustProxy a client-sent X-Request-Id is ignored and an id is generated', async () => {
  const [id] = await loggedIds(false, 'forged-id-123');
  assert.ok(id && id !== 'forged-id-123');
  assert.match(id, /^[0-9a-f-]{36}$/);
});

test('with trustProxy the X-Request-Id is honoured, unless it could smuggle text into the logs', async () => {
  assert.deepEqual(await loggedIds(true, 'proxy-abc.123'), ['proxy-abc.123']);
  const [id] = await loggedIds(true, 'x'.repeat(300));
  assert.match(String(id), /^[0-9a-f-]{36}$/);
});
