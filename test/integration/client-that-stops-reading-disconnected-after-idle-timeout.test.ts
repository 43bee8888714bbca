import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9: a client that asks for a big blob and then never reads held its socket (a file descriptor,
// an open store file, buffers) for ever. limits.clientIdleTimeout closes a connection on which no byte
// has moved either way for that long. The blob is larger than the loopback socket buffers on both sides,
// so the mirror's writes really do stall.

const IDLE_MS = 1000;
const BLOB_SIZE = 24 * 1024 * 1024;

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry().start();
  upstream.addImage('team/app', 'v1');
  mirror = await startMirror({ hub: { url: upstream.url } }, { extra: { limits: { clientIdleTimeout: `${IDLE_MS}ms` } } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

function openConnections(): Promise<number> {
  return new Promise((resolve, reject) => mirror.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

/** GET on a connection of its own (closed after the answer); resolves with the body's length. */
function getLength(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (response) => {
        let length = 0;
        response.on('data', (chunk: Buffer) => {
          length += chunk.length;
        });
        response.on('end', () => resolve(length));
        response.on('error', reject);
      })
      .on('error', reject);
  });
}

test('a client that stops reading a big blob loses its connection after clientIdleTimeout', async (t) => {
  const blob = upstream.addRandomBlob(BLOB_SIZE);
  // Warm the cache so the stalled answer is served from the store, with nothing else going on.
  assert.equal(await getLength(`${mirror.url}/v2/team/app/blobs/${blob.digest}`), BLOB_SIZE);
  for (let i = 0; i < 20 && (await openConnections()) > 0; i++) await sleep(25);
  assert.equal(await openConnections(), 0, 'the warm-up connection is gone');

  const { port } = new URL(mirror.url);
  const socket = net.connect(Number(port), '127.0.0.1');
  socket.on('error', () => {});
  t.after(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(`GET /v2/team/app/blobs/${blob.digest} HTTP/1.1\r\nHost: mirror\r\n\r\n`);
  // Never read: with no 'data' listener the socket stays paused once its own small buffer is full.
  const started = Date.now();
  await sleep(300);
  assert.equal(await openConnections(), 1, 'the stalled connection is open while within the idle time-out');

  let closedAfterMs: number | undefined;
  while (Date.now() - started < IDLE_MS + 4000) {
    if ((await openConnections()) === 0) {
      closedAfterMs = Date.now() - started;
      break;
    }
    await sleep(50);
  }
  t.diagnostic(`stalled connection closed after ${closedAfterMs} ms`);
  assert.ok(closedAfterMs !== undefined, 'the mirror closed the stalled connection');
  assert.ok(closedAfterMs <= IDLE_MS + 2500, `closed after ${closedAfterMs} ms (idle time-out ${IDLE_MS} ms)`);

  // What reached the client before the cut is less than the blob: the answer really was stalled.
  let received = 0;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
  });
  await new Promise((resolve) => socket.once('close', resolve));
  assert.ok(received < BLOB_SIZE, `received ${received} of ${BLOB_SIZE} bytes`);
});
