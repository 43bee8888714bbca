import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 11: a cold blob's bytes are read into a ring of reused buffers, and clients are sent them straight
// from it. A client that stops reading keeps some of those bytes in its connection's write queue: the fill
// must not wait for it (every other client would wait too), and the ring must not reuse a buffer under
// its pending writes (it would get other bytes of the blob than the ones it was promised).

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry().start();
  mirror = await startMirror({ hub: { url: upstream.url } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

test('a client that stops reading a cold blob stalls no one, and gets the right bytes when it reads on', async () => {
  upstream.addImage('stall/app', 'v1');
  // Far more than the ring (8 MiB) and the loopback socket buffers together.
  const { digest, bytes } = upstream.addRandomBlob(48 * 1024 * 1024);
  upstream.trickle = { chunk: 256 * 1024, delayMs: 2 };
  upstream.resetCounts();
  const { port } = new URL(mirror.url);
  const stalled = net.connect(Number(port), '127.0.0.1');
  await new Promise((resolve) => stalled.once('connect', resolve));
  stalled.pause();
  stalled.write(`GET /v2/stall/app/blobs/${digest} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  await new Promise((resolve) => setTimeout(resolve, 50));

  // Another client gets the whole blob while the first one reads nothing.
  const other = await fetch(`${mirror.url}/v2/stall/app/blobs/${digest}`);
  assert.equal(other.status, 200);
  assert.equal(sha256(Buffer.from(await other.arrayBuffer())), digest);
  const parsed = { algorithm: 'sha256' as const, hex: digest.slice(7), text: digest };
  await mirror.app.mirror.fills.get(parsed)?.finished;
  assert.deepEqual(await mirror.app.mirror.store.stat(parsed), { size: bytes.length }, 'the blob was kept while a client stalled');
  assert.equal(upstream.count({ kind: 'blob', method: 'GET' }), 1, 'one upstream GET for both clients');

  // The stalled client reads on: every byte is the blob's.
  const received: Buffer[] = [];
  stalled.on('data', (chunk: Buffer) => received.push(chunk));
  stalled.resume();
  await new Promise((resolve) => stalled.once('end', resolve));
  const answer = Buffer.concat(received);
  const headEnd = answer.indexOf('\r\n\r\n');
  assert.match(answer.subarray(0, headEnd).toString('latin1'), /^HTTP\/1\.1 200 /);
  const body = answer.subarray(headEnd + 4);
  assert.equal(body.length, bytes.length);
  assert.equal(sha256(body), digest, 'the stalled client got the blob, not bytes the ring read later');
  upstream.trickle = undefined;
});
