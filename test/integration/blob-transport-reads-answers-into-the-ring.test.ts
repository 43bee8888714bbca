import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { type HeldBytes, MIN_READ_BYTES, RING_SLOTS, SLOT_BYTES } from '../../src/storage/receive-ring.ts';
import type { RingResponse } from '../../src/upstream/ring-transport.ts';
import { readAll, type ScriptedUpstream, startScriptedUpstream, testTransport } from '../support/scripted-upstream.ts';

// Issue 11: blob downloads read their upstream socket into a ring of reused buffers, through an HTTP/1.1
// client of the mirror's own. Against raw sockets on the loopback (so every framing and every split of the
// bytes can be chosen): Content-Length, chunked and close-delimited bodies arrive whole, pieces lie in the
// ring, connections are reused, a body longer than announced is cut, an early close fails the body, and
// the ring stops reading while a consumer holds every slot — no byte is overwritten under a holder.

let upstream: ScriptedUpstream;
before(async () => {
  upstream = await startScriptedUpstream();
});
after(() => upstream.close());

const transport = testTransport;
const url = (): URL => upstream.url();

/** Writes `bytes` in pieces of the given sizes, a moment apart, so reads split them anywhere. */
async function dribble(socket: net.Socket, bytes: Buffer, sizes: number[]): Promise<void> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length] as number;
    socket.write(bytes.subarray(at, at + size));
    at += size;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

test('a Content-Length body arrives whole, in the ring, and the connection is reused for the next GET', async () => {
  const body = randomBytes(3 * 1024 * 1024 + 17);
  const before = upstream.connections.length;
  upstream.script = (socket) => void dribble(socket, Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]), [7, 100_000, 65_536, 300_000]);
  const client = transport();
  try {
    const first = await client.get(url(), {});
    assert.equal(first.statusCode, 200);
    assert.equal(first.headers['content-length'], String(body.length));
    assert.ok((await readAll(first)).equals(body));
    const second = await client.get(url(), { authorization: 'Bearer t' });
    assert.ok((await readAll(second)).equals(body));
    assert.equal(upstream.connections.length - before, 1, 'both GETs went over one connection');
  } finally {
    client.close();
  }
});

test('chunked bodies (extensions, trailers, any split) and 1xx answers before the real one', async () => {
  const body = randomBytes(700_000);
  const framed = [Buffer.from('HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')];
  for (let at = 0; at < body.length; at += 100_003) {
    const piece = body.subarray(at, at + 100_003);
    framed.push(Buffer.from(`${piece.length.toString(16)};ext=1\r\n`), piece, Buffer.from('\r\n'));
  }
  framed.push(Buffer.from('0\r\nX-Trailer: yes\r\n\r\n'));
  upstream.script = (socket) => void dribble(socket, Buffer.concat(framed), [1, 3, 5000, 64 * 1024]);
  const client = transport();
  try {
    const response = await client.get(url(), {});
    assert.equal(response.statusCode, 200);
    assert.ok((await readAll(response)).equals(body));
  } finally {
    client.close();
  }
});

test('a body that ends with its connection, and one that ends early', async () => {
  const body = randomBytes(200_000);
  upstream.script = (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n');
    socket.end(body);
  };
  const client = transport();
  try {
    assert.ok((await readAll(await client.get(url(), {}))).equals(body));
    upstream.script = (socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length + 10}\r\n\r\n`);
      socket.end(body);
    };
    const short = await client.get(url(), {});
    await assert.rejects(readAll(short), /closed the connection before the answer ended/);
  } finally {
    client.close();
  }
});

test('bytes past the end of an answer are cut and the connection is not reused', async () => {
  const body = randomBytes(1000);
  upstream.script = (socket) => socket.write(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n'), body, Buffer.from('EXTRA BYTES')]));
  const before = upstream.connections.length;
  const client = transport();
  try {
    assert.ok((await readAll(await client.get(url(), {}))).equals(body));
    assert.ok((await readAll(await client.get(url(), {}))).equals(body));
    assert.equal(upstream.connections.length - before, 2, 'the connection that sent too much was not reused');
    // The same after a chunked body's end, after an empty answer, and for an answer framed both ways.
    for (const answer of [
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    ]) {
      upstream.script = (socket) => socket.write(answer);
      const opened = upstream.connections.length;
      const fresh = transport();
      try {
        await readAll(await fresh.get(url(), {}));
        upstream.script = (socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyz');
        assert.equal((await readAll(await fresh.get(url(), {}))).toString(), 'xyz');
      } finally {
        fresh.close();
      }
      assert.equal(upstream.connections.length - opened, 2, `not reused after: ${JSON.stringify(answer.slice(0, 40))}`);
    }
  } finally {
    client.close();
  }
});

test('an answer that stalls times out; a header value that would start a header of its own is refused', async () => {
  upstream.script = (socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
  const client = transport({ idleTimeoutMs: 200 });
  try {
    const response = await client.get(url(), {});
    await assert.rejects(readAll(response), /idle too long/);
    await assert.rejects(client.get(url(), { authorization: 'Bearer t\r\nX-Injected: 1' }), /cannot be sent/);
  } finally {
    client.close();
  }
});

/**
 * Takes pieces without releasing any until the ring stops (nothing more comes for 300 ms), checks no held
 * piece changed, then releases them and reads on. Returns what was read while every slot was held, and
 * whether the whole body came right. `slack`: what a TLS socket still hands over after it was told to stop.
 */
async function holdUntilStalled(response: RingResponse, body: Buffer, slack = 0): Promise<void> {
  const held: Array<{ piece: HeldBytes; copy: Buffer }> = [];
  const hash = createHash('sha256');
  let received = 0;
  const iterator = response.body[Symbol.asyncIterator]();
  let pending = iterator.next();
  for (;;) {
    const next = await Promise.race([pending, new Promise<'stalled'>((resolve) => setTimeout(() => resolve('stalled'), 300))]);
    if (next === 'stalled') break;
    assert.ok(!next.done);
    held.push({ piece: next.value, copy: Buffer.from(next.value.bytes) });
    received += next.value.bytes.length;
    pending = iterator.next();
  }
  const ring = RING_SLOTS * SLOT_BYTES;
  assert.ok(received <= ring + slack, `read ${received} bytes with every slot held (ring ${ring})`);
  // A slot takes reads until less than MIN_READ_BYTES of it is left.
  assert.ok(received >= RING_SLOTS * (SLOT_BYTES - MIN_READ_BYTES), `the ring filled up before it stopped (${received} bytes)`);
  // Nothing was read into a held slot.
  for (const { piece, copy } of held) assert.ok(piece.bytes.equals(copy), 'a held piece kept its bytes');
  for (const { copy, piece } of held) {
    hash.update(copy);
    piece.slot?.release();
  }
  for (;;) {
    const next = await pending;
    pending = iterator.next();
    if (next.done) break;
    hash.update(next.value.bytes);
    received += next.value.bytes.length;
    next.value.slot?.release();
  }
  assert.equal(received, body.length);
  assert.equal(hash.digest('hex'), createHash('sha256').update(body).digest('hex'));
}

test('while a consumer holds every slot the upstream is not read, and no held byte is overwritten', async () => {
  const body = randomBytes(RING_SLOTS * SLOT_BYTES * 3);
  upstream.script = (socket) => socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]));
  const client = transport();
  try {
    await holdUntilStalled(await client.get(url(), {}), body);
  } finally {
    client.close();
  }
});

test('TLS upstreams are read into the ring the same way, and stop being read while every slot is held', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-ring-tls-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=ring', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  const cert = await readFile(path.join(dir, 'cert.pem'), 'utf8');
  const body = randomBytes(2 * 1024 * 1024 + 3);
  let big: Buffer | undefined;
  const secure = tls.createServer({ cert, key: await readFile(path.join(dir, 'key.pem')) }, (socket) => {
    socket.on('data', () => {
      const answer = big ?? body;
      socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${answer.length}\r\n\r\n`), answer]));
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
  const client = transport({ ca: cert });
  const blobUrl = new URL(`https://127.0.0.1:${(secure.address() as net.AddressInfo).port}/v2/x/blobs/sha256:0`);
  try {
    assert.ok((await readAll(await client.get(blobUrl, {}))).equals(body));
    // A consumer that holds every slot: TLS hands over the records it already decrypted after being told to
    // stop; they come in buffers of their own, and the download goes on whole once the slots are let go.
    big = randomBytes(RING_SLOTS * SLOT_BYTES * 2);
    await holdUntilStalled(await client.get(blobUrl, {}), big, 256 * 1024);
  } finally {
    client.close();
    secure.close();
  }
});
