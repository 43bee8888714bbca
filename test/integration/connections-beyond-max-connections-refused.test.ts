import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9: nothing bounded the connections one host could open; each holds a descriptor and memory.
// With limits.maxConnections the mirror closes connections past the limit at once, and the ones it
// holds keep working.

const MAX = 3;

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry().start();
  mirror = await startMirror({ hub: { url: upstream.url } }, { extra: { limits: { maxConnections: MAX, headersTimeout: '20s' } } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

function openConnections(): Promise<number> {
  return new Promise((resolve, reject) => mirror.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

function connect(): Promise<net.Socket> {
  const socket = net.connect(Number(new URL(mirror.url).port), '127.0.0.1');
  socket.on('error', () => {});
  return new Promise((resolve) => socket.once('connect', () => resolve(socket)));
}

/** Resolves true if the peer closes the socket within `ms`. */
function closedWithin(socket: net.Socket, ms: number): Promise<boolean> {
  socket.resume();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Sends GET /v2/ on a raw connection and returns the status line. */
function ping(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n')) {
        socket.off('data', onData);
        resolve(text.slice(0, text.indexOf('\r\n')));
      }
    };
    socket.on('data', onData);
    socket.write('GET /v2/ HTTP/1.1\r\nHost: mirror\r\n\r\n');
  });
}

test('a connection past maxConnections is closed at once; the held ones still work', async (t) => {
  const sockets: net.Socket[] = [];
  // Whatever fails, no socket of ours may hold the mirror's close open.
  t.after(() => {
    for (const socket of sockets) socket.destroy();
  });
  const held = await Promise.all(Array.from({ length: MAX }, connect));
  sockets.push(...held);
  for (let i = 0; i < 20 && (await openConnections()) < MAX; i++) await sleep(25);
  assert.equal(await openConnections(), MAX);

  const extra = await connect();
  sockets.push(extra);

  assert.equal(await closedWithin(extra, 1000), true, 'the connection past the limit was closed');
  assert.equal(await openConnections(), MAX);

  assert.match(await ping(held[0] as net.Socket), /^HTTP\/1\.1 200 /, 'a held connection is served');

  // Once one is released, a new client gets in.
  held[1]?.destroy();
  for (let i = 0; i < 40 && (await openConnections()) >= MAX; i++) await sleep(25);
  const another = await connect();
  sockets.push(another);
  assert.match(await ping(another), /^HTTP\/1\.1 200 /, 'a new connection is served once there is room');
});
