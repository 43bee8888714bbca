import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 11: kept blobs are read into buffers reused across requests (src/storage/read-buffers.ts) and
// written to the client's socket straight from them. A buffer goes back to the pool only when its socket
// took its bytes: a client that stops reading while others are served many blobs from the same pool must
// still get exactly its blob, whole and in ranges.

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

/** Sends a raw GET and reads nothing until told to; then resolves with the whole answer's body. */
async function stalledGet(path: string, headers = ''): Promise<{ readOn: () => Promise<{ head: string; body: Buffer }> }> {
  const { port } = new URL(mirror.url);
  const socket = net.connect(Number(port), '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.pause();
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}Connection: close\r\n\r\n`);
  return {
    readOn: async () => {
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.resume();
      await new Promise((resolve) => socket.once('end', resolve));
      const answer = Buffer.concat(received);
      const end = answer.indexOf('\r\n\r\n');
      return { head: answer.subarray(0, end).toString('latin1'), body: answer.subarray(end + 4) };
    },
  };
}

test('clients that stop reading kept blobs get their exact bytes while others churn the same buffers', async () => {
  upstream.addImage('kept/app', 'v1');
  // Far more than the loopback socket buffers, so most of each blob waits in the mirror's buffers.
  const big = upstream.addRandomBlob(24 * 1024 * 1024);
  const others = [upstream.addRandomBlob(3 * 1024 * 1024 + 5), upstream.addRandomBlob(5 * 1024 * 1024 + 11)];
  for (const blob of [big, ...others]) {
    const warm = await fetch(`${mirror.url}/v2/kept/app/blobs/${blob.digest}`);
    assert.equal(sha256(Buffer.from(await warm.arrayBuffer())), blob.digest);
  }
  upstream.resetCounts();

  const whole = await stalledGet(`/v2/kept/app/blobs/${big.digest}`);
  const start = 1024 * 1024 + 3;
  const end = 20 * 1024 * 1024 + 7;
  const ranged = await stalledGet(`/v2/kept/app/blobs/${big.digest}`, `Range: bytes=${start}-${end}\r\n`);
  await new Promise((resolve) => setTimeout(resolve, 100));

  // Meanwhile other clients are sent other blobs, again and again, from the same pool of buffers.
  for (let round = 0; round < 10; round++) {
    await Promise.all(
      others.map(async (blob) => {
        const response = await fetch(`${mirror.url}/v2/kept/app/blobs/${blob.digest}`);
        assert.equal(sha256(Buffer.from(await response.arrayBuffer())), blob.digest);
      }),
    );
  }

  const got = await whole.readOn();
  assert.match(got.head, /^HTTP\/1\.1 200 /);
  assert.equal(got.body.length, big.bytes.length);
  assert.equal(sha256(got.body), big.digest, 'the stalled client got its blob, not bytes read for others later');
  const part = await ranged.readOn();
  assert.match(part.head, /^HTTP\/1\.1 206 /);
  assert.ok(part.body.equals(big.bytes.subarray(start, end + 1)), 'the stalled range holds exactly its bytes');
  assert.equal(upstream.count({ kind: 'blob', method: 'GET' }), 0, 'all served from the store');
});
